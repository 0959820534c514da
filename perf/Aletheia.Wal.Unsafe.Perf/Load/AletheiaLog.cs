namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// This library as a peer, default options: <see cref="WriteAheadLog.AppendDurable(ReadOnlySpan{byte})"/> (closed loop),
/// <see cref="WriteAheadLog.AppendDurableAsync"/> (async), <see cref="WriteAheadLog.Append(ReadOnlySpan{byte})"/> and one
/// <see cref="WriteAheadLog.Flush()"/> (burst). With <see cref="WalWriteMode.DataSync"/>, the peer "aletheia-dsync": the same
/// log with its one opt-in durability mode (O_DSYNC), to measure it against the default in the same run.
/// </summary>
public sealed class AletheiaLog : IDurableLog, IAsyncDurableLog<Lsn>, IBurstLog
{
    private readonly string _directory;
    private readonly WriteAheadLog _log;
    private readonly WalWriteMode _mode;

    public AletheiaLog(string directory, WalWriteMode mode = WalWriteMode.WriteThrough)
    {
        _directory = directory;
        _mode = mode;
        _log = WriteAheadLog.Open(new WalOptions { Directory = directory, WriteMode = mode });
        _log.TestHookWaitForPreparedSegment(); // the next segment's zero-fill is start-up work, not part of the load
    }

    public string Name => _mode == WalWriteMode.DataSync ? "aletheia-dsync" : "aletheia";

    public void AppendDurable(ReadOnlySpan<byte> payload) => _log.AppendDurable(payload);

    public ValueTask<Lsn> AppendDurableAsync(ReadOnlyMemory<byte> payload) => _log.AppendDurableAsync(payload);

    public void Append(ReadOnlySpan<byte> payload) => _log.Append(payload);

    public void Flush() => _log.Flush();

    /// <summary>Closes the log, reopens it and reads every record: exactly <paramref name="records"/>, each of the right size.</summary>
    public string Verify(long records, int payloadBytes)
    {
        _log.Dispose();
        long count = 0;
        using (WriteAheadLog reopened = WriteAheadLog.Open(new WalOptions { Directory = _directory, WriteMode = _mode }))
        using (WalReader reader = reopened.ReadFrom(reopened.OldestLsn))
        {
            while (reader.TryRead(out WalRecord record))
            {
                if (record.Payload.Length != payloadBytes)
                {
                    throw new InvalidDataException($"Record {record.Lsn} has {record.Payload.Length} bytes, not {payloadBytes}.");
                }

                count++;
            }
        }

        return count == records
            ? $"reopened: {count:N0} records of {payloadBytes} B, as appended"
            : throw new InvalidDataException($"The reopened log holds {count:N0} records; {records:N0} were appended and flushed.");
    }

    public void Dispose() => _log.Dispose();
}
