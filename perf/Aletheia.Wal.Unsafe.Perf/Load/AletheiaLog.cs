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
    private readonly string _name;
    private Lsn _first = Lsn.None; // the first LSN Verify counts: after the records written to make recycled space

    public AletheiaLog(string directory, WalWriteMode mode = WalWriteMode.WriteThrough)
        : this(directory, mode, maxRecycledSegments: null)
    {
    }

    private AletheiaLog(string directory, WalWriteMode mode, int? maxRecycledSegments)
    {
        _directory = directory;
        _mode = mode;
        _name = maxRecycledSegments is not null ? "aletheia-recycled" : mode == WalWriteMode.DataSync ? "aletheia-dsync" : "aletheia";
        _log = WriteAheadLog.Open(maxRecycledSegments is { } kept
            ? new WalOptions { Directory = directory, WriteMode = mode, MaxRecycledSegments = kept }
            : new WalOptions { Directory = directory, WriteMode = mode });
        _log.TestHookWaitForPreparedSegment(); // the next segment's zero-fill is start-up work, not part of the load
    }

    public string Name => _name;

    /// <summary>
    /// The peer "aletheia-recycled": this log in the steady state of an engine that checkpoints. Before the burst it
    /// writes <paramref name="bytes"/> of 1 KiB records and truncates them all (<see cref="WriteAheadLog.TruncateBefore"/>),
    /// keeping up to 64 freed segments for reuse, so that the burst runs into recycled segments instead of zero-filling
    /// new ones while it writes (unmeasured set-up, as the zero-fill of the first segment is for every peer of this log).
    /// </summary>
    public static AletheiaLog WithRecycledSpace(string directory, long bytes)
    {
        var peer = new AletheiaLog(directory, WalWriteMode.WriteThrough, maxRecycledSegments: 64);
        byte[] record = new byte[1024];
        for (long written = 0; written < bytes; written += record.Length)
        {
            peer._log.Append(record);
        }

        peer._log.Flush();
        peer._first = new Lsn(peer._log.LastLsn.Value + 1);
        peer._log.TruncateBefore(peer._log.LastLsn);
        peer._log.TestHookWaitForPreparedSegment();
        return peer;
    }

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
        using (WalReader reader = reopened.ReadFrom(_first == Lsn.None ? reopened.OldestLsn : _first))
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
