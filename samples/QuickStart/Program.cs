using System.Text;
using Aletheia.Wal;

// The log's directory: the first argument, or a new temporary one.
string directory = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "quickstart-" + Guid.NewGuid().ToString("N"));

// Open (or create) the log. Recovery runs here: a torn last write left by a crash is cut, and reported.
using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
{
    // Append: returns at once with the record's LSN; the record is durable later (group commit).
    Lsn first = log.Append("put a=1"u8);

    // TryAppend: never waits; false when the stripe is full (backpressure is yours to apply).
    if (!log.TryAppend("put b=2"u8, out Lsn second))
    {
        second = log.Append("put b=2"u8);
    }

    // Append<TState>: serialize in place into the log's native memory, no intermediate buffer.
    string command = "put c=3";
    Lsn third = log.Append(command.Length, command, static (destination, text) => Encoding.ASCII.GetBytes(text, destination));

    // Wait until a record (and every record before it) is on disk.
    log.WaitForDurable(third);

    // AppendDurable: append and wait; when it returns the record survives a crash or power loss.
    Lsn fourth = log.AppendDurable("put d=4"u8);

    // AppendDurableAsync: the same without holding a thread.
    Lsn fifth = await log.AppendDurableAsync("put e=5"u8.ToArray());

    // Flush: everything appended so far is durable when it returns.
    log.Append("put f=6"u8);
    log.Flush();
    Console.WriteLine($"appended {first}..{log.LastLsn}, durable up to {log.DurableLsn}");

    // Read back the durable records, from an LSN, while the log stays open.
    using (WalReader reader = log.ReadFrom(first))
    {
        while (reader.TryRead(out WalRecord record))
        {
            Console.WriteLine($"{record.Lsn}: {Encoding.ASCII.GetString(record.Payload)}");
        }
    }

    // Drop records after an LSN (a Raft conflict, an aborted transaction): the next append gets fifth + 1.
    log.TruncateAfter(fifth);
    Lsn replaced = log.AppendDurable("put f=60"u8);
    Console.WriteLine($"after TruncateAfter({fifth}): {replaced} is 'put f=60'");

    // Drop whole segments below an LSN once a checkpoint holds their effects.
    WalTruncation truncation = log.TruncateBefore(second);
    Console.WriteLine($"TruncateBefore({second}): {truncation.SegmentsRemoved} segments removed, oldest kept {truncation.OldestLsn}");

    WalMetrics metrics = log.GetMetrics();
    Console.WriteLine($"{metrics.RecordsWritten} records written, durable lag {metrics.DurableLag}");
}

// Reopen: every durable record is there, and nothing was dropped.
using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
{
    Console.WriteLine($"reopened: {log.OldestLsn}..{log.LastLsn}, recovery dropped {(log.GetMetrics().RecoveryDroppedFrom == Lsn.None ? "nothing" : "records")}");
}
