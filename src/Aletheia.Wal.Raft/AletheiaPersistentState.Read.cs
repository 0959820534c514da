using System.Runtime.CompilerServices;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Threading;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft;

public abstract partial class AletheiaPersistentState
{
    private const int MaxPooledReaders = 4;
    private const long MaxReaderSkip = RecentEntries.Capacity;

    // Live readers left where their last read ended: replication to each follower reads on from there (guarded by itself).
    // Used: when the reader was last returned (_readerClock), so that a full pool gives up the least recently used.
    private readonly List<(WalReader Reader, long Next, long Used)> _readers = [];
    private long _readerClock; // guarded by _readers
    private readonly Stack<RaftEntryList> _lists = new(); // guarded by itself
    private bool _readerPoolClosed; // guarded by _readers: set at disposal, after which readers returned are disposed

    /// <summary>
    /// Hands the entries from <paramref name="startIndex"/> to <paramref name="endIndex"/> to <paramref name="reader"/>.
    /// When the log no longer holds <paramref name="startIndex"/> (compacted), the first entry is the snapshot, and the
    /// snapshot's index is passed along. The last entries appended (<c>RecentEntries.Capacity</c> of them, durable or not)
    /// come from the copies kept in memory: a leader replicates an entry while its own write runs, and a follower that
    /// keeps up is served without touching the log. Older entries (a lagging follower's) come from a live reader of the
    /// log, pooled and read on from where its last read ended, once durable. Either way each payload is copied once, into
    /// the read's buffer. A metadata-only reader
    /// gets terms without touching the log. Compactions do not wait for reads: a read whose entries a compaction removes
    /// while it collects them starts again, and then begins with the new snapshot.
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

        // Volatile: a fresh look at the flag DisposeAsync sets; a read racing disposal fails in the log instead.
        if (Volatile.Read(ref _disposed) != 0)
        {
            return ValueTask.FromException<TResult>(new ObjectDisposedException(GetType().Name));
        }

        return ReadCoreAsync(reader, Math.Max(startIndex, 1), endIndex, token);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<TResult> ReadCoreAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> consumer, long startIndex, long endIndex, CancellationToken token)
    {
        RaftEntryList list = RentList();
        await _appendLock.EnterReadLockAsync(token).ConfigureAwait(false);
        try
        {
            long? snapshotIndex;
            while (true)
            {
                try
                {
                    snapshotIndex = await CollectAsync(list, consumer.LogEntryMetadataOnly, startIndex, endIndex, token).ConfigureAwait(false);
                    break;
                }
                catch (WalTruncatedException)
                {
                    // A compaction (which excludes no reader) removed segments this read had chosen to read: it published
                    // its snapshot's index first, so the next try starts with that snapshot. Pooled readers positioned in
                    // the removed segments go too. Each retry follows a removal: compactions are bounded by appends.
                    list.Clear();
                    DisposeReaders();
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

    /// <summary>Puts the snapshot (when the log no longer serves <paramref name="startIndex"/>) and the entries to <paramref name="endIndex"/> in <paramref name="list"/>; returns the snapshot's index when it is there.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<long?> CollectAsync(RaftEntryList list, bool metadataOnly, long startIndex, long endIndex, CancellationToken token)
    {
        long? snapshotIndex = null;
        if (startIndex > endIndex)
        {
            return null;
        }

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

        if (startIndex > endIndex)
        {
            return snapshotIndex;
        }

        if (metadataOnly)
        {
            for (long i = startIndex; i <= endIndex; i++)
            {
                list.Add(TermAt(i), null, false, false, ReadOnlyMemory<byte>.Empty);
            }

            return snapshotIndex;
        }

        // Entries from memory while it holds them (the last ones appended, durable or not: a leader replicates an entry
        // while its own write runs); the others (a lagging follower's, or too large to be kept) from a pooled reader of
        // the log, once written. So a follower that keeps up is served without a reader, and a reader serves one that
        // lags, reading on from where its last read ended.
        long next = startIndex;
        while (next <= endIndex)
        {
            next = CopyRecent(list, next, endIndex);
            if (next <= endIndex)
            {
                long runEnd = LastNotInMemory(next, endIndex);
                await WaitDurableAsync(runEnd, token).ConfigureAwait(false);
                await CopyEntriesAsync(list, next, runEnd, token).ConfigureAwait(false);
                next = runEnd + 1;
            }
        }

        return snapshotIndex;
    }

    /// <summary>The last index of the run from <paramref name="from"/> (which memory does not hold) that memory does not hold, at most <paramref name="to"/>.</summary>
    private long LastNotInMemory(long from, long to)
    {
        lock (_termGate)
        {
            return _recent.LastMissing(from, to, (long)_log.LastLsn.Value);
        }
    }

    /// <summary>Copies entries <paramref name="from"/>.. from memory while they are there; returns the first index not copied.</summary>
    private long CopyRecent(RaftEntryList list, long from, long to)
    {
        lock (_termGate)
        {
            while (from <= to && _recent.TryCopyTo(from, list))
            {
                from++;
            }
        }

        return from;
    }

    /// <summary>
    /// The first index reads serve from the log: the one after the snapshot (the entries it covers are read as the
    /// snapshot, as DotNext's own log does: a snapshot installed from the leader may cover entries this log holds and the
    /// leader never had), and at least the oldest the log still holds.
    /// </summary>
    private long FirstLogIndex()
    {
        Lsn oldest = _log.OldestLsn;
        long first = oldest == Lsn.None ? (long)_log.LastLsn.Value + 1 : (long)oldest.Value;
        return Math.Max(first, SnapshotIndex + 1);
    }

    /// <summary>Copies the durable entries <paramref name="from"/>..<paramref name="to"/> into <paramref name="list"/> from a pooled live reader.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    private async ValueTask CopyEntriesAsync(RaftEntryList list, long from, long to, CancellationToken token)
    {
        WalReader reader = RentReader(from, out long next);
        bool healthy = false;
        try
        {
            while (next <= to)
            {
                if (!TryCopyAvailable(reader, list, ref next, from, to) && !await reader.WaitToReadAsync(token).ConfigureAwait(false))
                {
                    // The log was closed (reads are not waited for at disposal) with this entry not written.
                    throw new ObjectDisposedException(GetType().Name, $"The log in '{_log.Directory}' was closed while a read waited for entry {next}.");
                }
            }

            healthy = true;
        }
        finally
        {
            ReturnReader(reader, next, healthy);
        }
    }

    /// <summary>Copies what the reader has now up to <paramref name="to"/>; records below <paramref name="from"/> are skipped.</summary>
    private static bool TryCopyAvailable(WalReader reader, RaftEntryList list, ref long next, long from, long to)
    {
        bool any = false;
        while (next <= to && reader.TryRead(out WalRecord record))
        {
            if ((long)record.Lsn.Value != next)
            {
                throw new InvalidDataException($"The log's reader returned LSN {record.Lsn.Value} where LSN {next} was expected.");
            }

            next++;
            any = true;
            if (next - 1 >= from)
            {
                RaftFrameHeader header = RaftFrame.Read(record.Payload, record.Lsn.Value);
                list.Add(header.Term, header.CommandId, header.IsConfiguration, record.Payload[RaftFrame.HeaderSize..]);
            }
        }

        return any;
    }

    /// <summary>
    /// A live reader positioned at or a little before <paramref name="from"/> (<paramref name="position"/>: its next LSN),
    /// from the pool when one is (reads of recent entries served from memory leave readers behind, and a reader skips
    /// ahead for less than a new one costs), else a new one. Of the pooled readers it takes the one closest below
    /// <paramref name="from"/>; the others stay pooled, whatever their positions: each may be another follower's, which
    /// lags by more or less than this one (two lagging followers far apart each keep their own reader).
    /// </summary>
    private WalReader RentReader(long from, out long position)
    {
        lock (_readers)
        {
            int best = -1;
            for (int i = 0; i < _readers.Count; i++)
            {
                long next = _readers[i].Next;
                if (next <= from && from - next <= MaxReaderSkip && (best < 0 || next > _readers[best].Next))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                (WalReader reader, position, _) = _readers[best];
                _readers.RemoveAt(best);
                return reader;
            }
        }

        position = from;
        try
        {
            return _log.ReadFrom(new Lsn((ulong)from));
        }
        catch (ArgumentOutOfRangeException) when ((long)_log.OldestLsn.Value > from)
        {
            // A compaction removed the segment between this read's choice of its start and here: as a reader would say.
            throw new WalTruncatedException(new Lsn((ulong)from), $"The read needs LSN {from}, but TruncateBefore removed it: the oldest LSN kept is {_log.OldestLsn.Value}.");
        }
    }

    /// <summary>
    /// Pools the reader at <paramref name="next"/>; a full pool first gives up its least recently used reader (each holds a
    /// 1 MiB buffer): a follower that stopped reading, or one caught up and served from memory, rather than one that reads.
    /// </summary>
    private void ReturnReader(WalReader reader, long next, bool healthy)
    {
        if (healthy)
        {
            lock (_readers)
            {
                if (_readerPoolClosed)
                {
                    reader.Dispose();
                    return;
                }

                if (_readers.Count == MaxPooledReaders)
                {
                    int oldest = 0;
                    for (int i = 1; i < _readers.Count; i++)
                    {
                        if (_readers[i].Used < _readers[oldest].Used)
                        {
                            oldest = i;
                        }
                    }

                    _readers[oldest].Reader.Dispose();
                    _readers.RemoveAt(oldest);
                }

                _readers.Add((reader, next, ++_readerClock));
                return;
            }
        }

        reader.Dispose();
    }

    /// <summary>Disposes the pooled readers: after a cut or a compaction, their positions may be gone.</summary>
    private void DisposeReaders()
    {
        lock (_readers)
        {
            foreach ((WalReader reader, _, _) in _readers)
            {
                reader.Dispose();
            }

            _readers.Clear();
        }
    }

    /// <summary>Disposes the pooled readers, and from now on every reader returned (disposal: the log is closed next).</summary>
    private void CloseReaderPool()
    {
        lock (_readers)
        {
            _readerPoolClosed = true;
        }

        DisposeReaders();
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
