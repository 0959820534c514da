using Aletheia.Wal.Raft.Storage;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft;

public abstract partial class AletheiaPersistentState
{
    private const int MaxPooledReaders = 4;

    // Live readers left where their last read ended: replication to each follower reads on from there (guarded by itself).
    private readonly List<(WalReader Reader, long Next)> _readers = [];
    private readonly Stack<RaftEntryList> _lists = new(); // guarded by itself

    /// <summary>
    /// Hands the entries from <paramref name="startIndex"/> to <paramref name="endIndex"/> to <paramref name="reader"/>.
    /// When the log no longer holds <paramref name="startIndex"/> (compacted), the first entry is the snapshot, and the
    /// snapshot's index is passed along. Entries come from a live reader of the log, which returns durable records only:
    /// entries a leader appended and that are not durable yet are waited for (their group commit is under way), then
    /// copied once, out of the reader, into the read's buffer. A metadata-only reader gets terms without touching the log.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startIndex"/> or <paramref name="endIndex"/> is negative, or <paramref name="endIndex"/> is above <see cref="LastEntryIndex"/>.</exception>
    public ValueTask<TResult> ReadAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> reader, long startIndex, long endIndex, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (startIndex < 0)
        {
            return ValueTask.FromException<TResult>(new ArgumentOutOfRangeException(nameof(startIndex), startIndex, "The start index must be at least 0."));
        }

        if (endIndex < 0 || endIndex > LastEntryIndex)
        {
            return ValueTask.FromException<TResult>(new ArgumentOutOfRangeException(
                nameof(endIndex), endIndex, $"The end index must be from 0 to the last entry's index, {LastEntryIndex}."));
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return ValueTask.FromException<TResult>(new ObjectDisposedException(GetType().Name));
        }

        return ReadCoreAsync(reader, Math.Max(startIndex, 1), endIndex, token);
    }

    private async ValueTask<TResult> ReadCoreAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> consumer, long startIndex, long endIndex, CancellationToken token)
    {
        RaftEntryList list = RentList();
        await _appendLock.EnterReadLockAsync(token).ConfigureAwait(false);
        try
        {
            long? snapshotIndex = null;
            if (startIndex <= endIndex)
            {
                long first = FirstLogIndex();
                if (startIndex < first)
                {
                    lock (_termGate)
                    {
                        list.Add(_snapshotTerm, null, false, true, _snapshot);
                        snapshotIndex = _snapshotIndex;
                    }

                    startIndex = snapshotIndex.GetValueOrDefault() + 1;
                }

                if (startIndex <= endIndex)
                {
                    if (consumer.LogEntryMetadataOnly)
                    {
                        for (long i = startIndex; i <= endIndex; i++)
                        {
                            list.Add(TermAt(i), null, false, false, ReadOnlyMemory<byte>.Empty);
                        }
                    }
                    else
                    {
                        await WaitDurableAsync(endIndex, token).ConfigureAwait(false);
                        await CopyEntriesAsync(list, startIndex, endIndex, token).ConfigureAwait(false);
                    }
                }
            }

            return await consumer.ReadAsync<RaftLogEntry, RaftEntryList>(list, snapshotIndex, token).ConfigureAwait(false);
        }
        finally
        {
            _appendLock.Release();
            ReturnList(list);
        }
    }

    /// <summary>The first index the log itself holds (entries below are in the snapshot); LastEntryIndex + 1 when it holds none.</summary>
    private long FirstLogIndex()
    {
        Lsn oldest = _log.OldestLsn;
        return oldest == Lsn.None ? (long)_log.LastLsn.Value + 1 : (long)oldest.Value;
    }

    /// <summary>Copies the durable entries <paramref name="from"/>..<paramref name="to"/> into <paramref name="list"/> from a pooled live reader.</summary>
    private async ValueTask CopyEntriesAsync(RaftEntryList list, long from, long to, CancellationToken token)
    {
        WalReader reader = RentReader(from);
        long next = from;
        bool healthy = false;
        try
        {
            while (next <= to)
            {
                if (!TryCopyAvailable(reader, list, ref next, to))
                {
                    await reader.WaitToReadAsync(token).ConfigureAwait(false);
                }
            }

            healthy = true;
        }
        finally
        {
            ReturnReader(reader, next, healthy);
        }
    }

    private static bool TryCopyAvailable(WalReader reader, RaftEntryList list, ref long next, long to)
    {
        bool any = false;
        while (next <= to && reader.TryRead(out WalRecord record))
        {
            if ((long)record.Lsn.Value != next)
            {
                throw new InvalidDataException($"The log's reader returned LSN {record.Lsn.Value} where LSN {next} was expected.");
            }

            RaftFrameHeader header = RaftFrame.Read(record.Payload, record.Lsn.Value);
            list.Add(header.Term, header.CommandId, header.IsConfiguration, record.Payload[RaftFrame.HeaderSize..]);
            next++;
            any = true;
        }

        return any;
    }

    private WalReader RentReader(long from)
    {
        lock (_readers)
        {
            for (int i = 0; i < _readers.Count; i++)
            {
                if (_readers[i].Next == from)
                {
                    WalReader found = _readers[i].Reader;
                    _readers.RemoveAt(i);
                    return found;
                }
            }
        }

        return _log.ReadFrom(new Lsn((ulong)from));
    }

    private void ReturnReader(WalReader reader, long next, bool healthy)
    {
        if (healthy)
        {
            lock (_readers)
            {
                if (_readers.Count < MaxPooledReaders)
                {
                    _readers.Add((reader, next));
                    return;
                }
            }
        }

        reader.Dispose();
    }

    /// <summary>Disposes the pooled readers: after a cut or a compaction, their positions may be gone.</summary>
    private void DisposeReaders()
    {
        lock (_readers)
        {
            foreach ((WalReader reader, _) in _readers)
            {
                reader.Dispose();
            }

            _readers.Clear();
        }
    }

    private RaftEntryList RentList()
    {
        lock (_lists)
        {
            return _lists.TryPop(out RaftEntryList? list) ? list : new RaftEntryList();
        }
    }

    private void ReturnList(RaftEntryList list)
    {
        list.Clear();
        lock (_lists)
        {
            if (_lists.Count < MaxPooledReaders)
            {
                _lists.Push(list);
            }
        }
    }
}
