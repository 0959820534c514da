using System.Runtime.CompilerServices;
using System.Buffers;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Threading;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Threading;

namespace Aletheia.Wal.Raft;

public abstract partial class AletheiaPersistentState
{
    // Serializes the entry frame (header, then payload) straight into the log's ring memory: the one copy of the payload.
    private static readonly WalPayloadWriter<FrameSource> s_writeFrame = static (destination, source) =>
    {
        RaftFrame.WriteHeader(destination, source.Term, source.CommandId, source.IsConfiguration, source.IsCompacted);
        source.Payload.CopyTo(destination[RaftFrame.HeaderSize..]);
    };

    // The buffer for entries that cannot lend their bytes (a follower's, streamed off the network): used under the exclusive append lock only.
    private readonly ArrayBufferWriter<byte> _entryBuffer = new(4096);

    // Copies of the last entries appended, for reads of entries the log has not written yet (guarded by _termGate).
    private readonly RecentEntries _recent = new();

    /// <summary>
    /// Appends <paramref name="entry"/> at the end of the log (a leader's new entry) and returns its index at once: the log
    /// writes it meanwhile (concurrent calls share group commits), a read serves it from memory until then, and
    /// <see cref="CommitAsync"/> commits no entry before it is durable here. So a leader replicates an entry while its own
    /// write runs, and still counts itself in a majority only for entries on its disk (Raft, section 5.3).
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="entry"/> is a snapshot.</exception>
    public ValueTask<long> AppendAsync<TEntryImpl>(TEntryImpl entry, CancellationToken token = default)
        where TEntryImpl : IRaftLogEntry
    {
        if (entry.IsSnapshot)
        {
            return ValueTask.FromException<long>(new InvalidOperationException("A snapshot cannot be appended at the end of the log; install it with AppendAsync(entry, startIndex)."));
        }

        if (!_operations.TryEnter())
        {
            return ValueTask.FromException<long>(new ObjectDisposedException(GetType().Name));
        }

        if (entry.TryGetMemory(out ReadOnlyMemory<byte> payload) && _appendLock.TryEnterReadLock())
        {
            try
            {
                return new ValueTask<long>(AppendFrame(entry.Term, entry.CommandId, entry.IsConfiguration, false, payload.Span));
            }
            finally
            {
                _appendLock.Release();
                _operations.Exit();
            }
        }

        return AppendSlowAsync(entry, token); // exits the operation
    }

    /// <summary>
    /// Puts <paramref name="entry"/> at <paramref name="startIndex"/>. A snapshot is installed: the state machine is
    /// restored from it and the log continues after its index. Any other entry replaces the entry at
    /// <paramref name="startIndex"/> and everything after it, unless the entry there has the same term (then it is the
    /// same entry, Raft's Log Matching property, and the log is kept as it is). A snapshot's installation observes
    /// <paramref name="token"/> until it holds the state machine; from then on it runs to the end (fillers, snapshot file,
    /// state machine, indexes: one step), so a cancellation never leaves it half done.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="startIndex"/> is at or below the commit index.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startIndex"/> is below 1, or above <see cref="LastEntryIndex"/> + 1 (a gap) for an entry that is not a snapshot.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled; or the state was disposed while the call waited for the lock or the entry's bytes (a snapshot: before it held the state machine; nothing of it is kept).</exception>
    /// <exception cref="ObjectDisposedException">The state was disposed before the call.</exception>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    public async ValueTask AppendAsync<TEntryImpl>(TEntryImpl entry, long startIndex, CancellationToken token = default)
        where TEntryImpl : IRaftLogEntry
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(startIndex, 1L);
        EnterOperation();
        try
        {
            // Disposal cancels the waits for the lock and for the entry's bytes; past its point of no return an
            // installation observes no token, and disposal waits for it.
            using CancellationTokenMultiplexer.Scope cancellation = _cancellation.Combine([token, _lifetime.Token]);
            await _appendLock.EnterWriteLockAsync(cancellation.Token).ConfigureAwait(false);
            try
            {
                if (entry.IsSnapshot)
                {
                    await InstallSnapshotUnderLockAsync(entry, startIndex, cancellation.Token).ConfigureAwait(false);
                    return;
                }

                CheckAppendIndexUnderLock(startIndex);
                await AppendAtUnderLockAsync(entry, startIndex, cancellation.Token).ConfigureAwait(false);
                await WaitDurableAsync(startIndex, cancellation.Token).ConfigureAwait(false);
            }
            finally
            {
                _appendLock.Release();
            }
        }
        catch (OperationCanceledException e) when (CancelledByDisposal(token))
        {
            throw entry.IsSnapshot
                ? new OperationCanceledException($"The snapshot's installation at index {startIndex} was cancelled: the persistent state in '{_directory}' was disposed before it held the state machine, and nothing of it was kept.", e, e.CancellationToken)
                : AppendCancelledByDisposal(startIndex, e);
        }
        finally
        {
            _operations.Exit();
        }
    }

    /// <summary>
    /// Puts the entries of <paramref name="entries"/> at <paramref name="startIndex"/> and after (a follower's
    /// AppendEntries): an entry whose index holds one of the same term is kept as it is; at the first that conflicts
    /// (another term), that entry and every later one are dropped (<see cref="WriteAheadLog.TruncateAfter"/>) and the rest
    /// appended. Returns once they are durable.
    /// </summary>
    /// <exception cref="InvalidOperationException">An entry would go at or below the commit index and <paramref name="skipCommitted"/> is false; or an entry is a snapshot.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startIndex"/> is below 1 or above <see cref="LastEntryIndex"/> + 1 (a gap).</exception>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    public async ValueTask AppendAsync<TEntryImpl>(ILogEntryProducer<TEntryImpl> entries, long startIndex, bool skipCommitted = false, CancellationToken token = default)
        where TEntryImpl : IRaftLogEntry
    {
        ArgumentNullException.ThrowIfNull(entries);
        await AppendRangeAsync(entries, startIndex, skipCommitted, commitIndex: 0, token).ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="AppendAsync{TEntryImpl}(ILogEntryProducer{TEntryImpl}, long, bool, CancellationToken)"/>, then commits
    /// up to <paramref name="commitIndex"/> but no further than the last entry this call put in place (Raft: a follower
    /// commits min(leaderCommit, index of last new entry)). The commit index is written while the log writes the
    /// entries: both are on disk when this returns.
    /// </summary>
    /// <returns>How many entries were committed.</returns>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    public async ValueTask<long> AppendAndCommitAsync<TEntryImpl>(
        ILogEntryProducer<TEntryImpl> entries, long startIndex, bool skipCommitted, long commitIndex, CancellationToken token = default)
        where TEntryImpl : IRaftLogEntry
    {
        ArgumentNullException.ThrowIfNull(entries);
        return await AppendRangeAsync(entries, startIndex, skipCommitted, commitIndex, token).ConfigureAwait(false);
    }

    /// <summary>The range append; then, if <paramref name="commitIndex"/> is above the commit index, commits up to it (at most the last entry supplied) while the log writes the entries.</summary>
    /// <returns>How many entries were committed.</returns>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<long> AppendRangeAsync<TEntryImpl>(ILogEntryProducer<TEntryImpl> entries, long startIndex, bool skipCommitted, long commitIndex, CancellationToken token)
        where TEntryImpl : IRaftLogEntry
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(startIndex, 1L);
        EnterOperation();
        try
        {
            // Disposal cancels the waits (the lock, the entries' bytes, the commit lock, the write).
            using CancellationTokenMultiplexer.Scope cancellation = _cancellation.Combine([token, _lifetime.Token]);
            return await AppendRangeUnderOperationAsync(entries, startIndex, skipCommitted, commitIndex, cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (CancelledByDisposal(token))
        {
            throw AppendCancelledByDisposal(startIndex, e);
        }
        finally
        {
            _operations.Exit();
        }
    }

    private OperationCanceledException AppendCancelledByDisposal(long startIndex, OperationCanceledException e) =>
        new($"The append at index {startIndex} was cancelled: the persistent state in '{_directory}' was disposed while it waited for the append lock, the entries' bytes or their write; what it appended stays in the log, unacknowledged.", e, e.CancellationToken);

    /// <summary>The range append, once entered as an operation; <paramref name="token"/> is cancelled by disposal too.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<long> AppendRangeUnderOperationAsync<TEntryImpl>(ILogEntryProducer<TEntryImpl> entries, long startIndex, bool skipCommitted, long commitIndex, CancellationToken token)
        where TEntryImpl : IRaftLogEntry
    {
        await _appendLock.EnterWriteLockAsync(token).ConfigureAwait(false);
        try
        {
            if (startIndex > LastEntryIndex + 1)
            {
                throw Gap(startIndex);
            }

            long index = startIndex;
            while (await entries.MoveNextAsync().ConfigureAwait(false))
            {
                TEntryImpl entry = entries.Current;
                if (entry.IsSnapshot)
                {
                    throw new InvalidOperationException($"Entry {index} of the range is a snapshot: install snapshots with AppendAsync(entry, startIndex).");
                }

                if (index <= LastCommittedEntryIndex)
                {
                    if (!skipCommitted)
                    {
                        throw BelowCommit(index);
                    }
                }
                else
                {
                    await AppendAtUnderLockAsync(entry, index, token).ConfigureAwait(false);
                }

                index++;
            }

            long last = index - 1;
            long committed = 0;
            long target = Math.Min(commitIndex, last);
            if (target > LastCommittedEntryIndex)
            {
                // The flush thread writes the entries meanwhile: the two write-through writes overlap.
                await _commitLock.AcquireAsync(token).ConfigureAwait(false);
                try
                {
                    committed = CommitUnderLock(target);
                }
                finally
                {
                    _commitLock.Release();
                }
            }

            // Whatever this call appended, or kept (a leader's append not yet written, before this node stepped down),
            // is durable before it returns: Raft counts this node's answer as the entries being on its disk.
            long written = Math.Min(last, (long)_log.LastLsn.Value);
            if (written >= 1)
            {
                await WaitDurableAsync(written, token).ConfigureAwait(false);
            }

            return committed;
        }
        finally
        {
            _appendLock.Release();
        }
    }

    private void CheckAppendIndexUnderLock(long startIndex)
    {
        if (startIndex <= LastCommittedEntryIndex)
        {
            throw BelowCommit(startIndex);
        }

        if (startIndex > LastEntryIndex + 1)
        {
            throw Gap(startIndex);
        }
    }

    private InvalidOperationException BelowCommit(long index) =>
        new($"Entry {index} cannot be replaced: it is at or below the commit index {LastCommittedEntryIndex}, and committed entries are final.");

    private ArgumentOutOfRangeException Gap(long startIndex) =>
        new(nameof(startIndex), startIndex, $"Appending at {startIndex} would leave a gap: the log's last entry is {LastEntryIndex}, so entries go at {LastEntryIndex + 1} or below.");

    /// <summary>
    /// Puts one entry at <paramref name="index"/> (at most one past the end), dropping a conflicting suffix first; the
    /// caller holds the exclusive append lock and has checked <paramref name="index"/> against the commit index.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    private async ValueTask AppendAtUnderLockAsync<TEntryImpl>(TEntryImpl entry, long index, CancellationToken token)
        where TEntryImpl : IRaftLogEntry
    {
        long last = (long)_log.LastLsn.Value;
        if (index <= last)
        {
            if (TermAt(index) == entry.Term)
            {
                return; // the same entry (Log Matching): keep it, and what follows it
            }

            TruncateAfterUnderLock(index - 1);
        }

        if (entry.TryGetMemory(out ReadOnlyMemory<byte> payload))
        {
            AppendFrame(entry.Term, entry.CommandId, entry.IsConfiguration, false, payload.Span);
            return;
        }

        _entryBuffer.ResetWrittenCount();
        await DataTransferObject.WriteToAsync(entry, _entryBuffer, token).ConfigureAwait(false);
        AppendFrame(entry.Term, entry.CommandId, entry.IsConfiguration, false, _entryBuffer.WrittenSpan);
    }

    /// <summary>
    /// A leader's append whose entry cannot lend its bytes, or that found the append lock held alone; the caller entered
    /// the operation, which this exits. Its wait for the read lock needs no disposal token: it waits only for writers,
    /// which disposal cancels or waits for.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<long> AppendSlowAsync<TEntryImpl>(TEntryImpl entry, CancellationToken token)
        where TEntryImpl : IRaftLogEntry
    {
        try
        {
            if (!entry.TryGetMemory(out ReadOnlyMemory<byte> payload))
            {
                // An entry that only streams its bytes: copied once into a buffer of its own (concurrent appends share no buffer).
                var buffer = new ArrayBufferWriter<byte>((int)Math.Clamp(entry.Length.GetValueOrDefault(), 256, Array.MaxLength));
                await DataTransferObject.WriteToAsync(entry, buffer, token).ConfigureAwait(false);
                payload = buffer.WrittenMemory;
            }

            await _appendLock.EnterReadLockAsync(token).ConfigureAwait(false);
            try
            {
                return AppendFrame(entry.Term, entry.CommandId, entry.IsConfiguration, false, payload.Span);
            }
            finally
            {
                _appendLock.Release();
            }
        }
        finally
        {
            _operations.Exit();
        }
    }

    /// <summary>Appends one framed entry (not yet durable) and records its term; returns its index (its LSN).</summary>
    private long AppendFrame(long term, int? commandId, bool isConfiguration, bool isCompacted, ReadOnlySpan<byte> payload)
    {
        var source = new FrameSource(term, commandId, isConfiguration, isCompacted, payload);
        lock (_termGate)
        {
            // Under the gate the LSN handed out and the term recorded for it stay in step: runs are recorded in index order.
            Lsn lsn = _log.Append(RaftFrame.HeaderSize + payload.Length, source, s_writeFrame);
            _terms.Record((long)lsn.Value, term);
            _recent.Put((long)lsn.Value, term, commandId, isConfiguration, payload);
            return (long)lsn.Value;
        }
    }

    /// <summary>Appends fillers (not yet durable) at <paramref name="from"/>..<paramref name="to"/>, entries a snapshot at <paramref name="to"/> covers; the caller excludes other appends.</summary>
    private void AppendFillers(long from, long to, long term)
    {
        for (long i = from; i <= to; i++)
        {
            long lsn = AppendFrame(term, null, false, true, []);
            if (lsn != i)
            {
                throw new InvalidDataException($"A filler for entry {i} was given LSN {lsn}: the log's LSNs and Raft's indexes no longer agree.");
            }
        }
    }

    /// <summary>Completes once the entries up to <paramref name="index"/> are durable (the log's own wait: pooled, allocation-free).</summary>
    private ValueTask WaitDurableAsync(long index, CancellationToken token) =>
        (long)_log.DurableLsn.Value >= index ? ValueTask.CompletedTask : _log.WaitForDurableAsync(new Lsn((ulong)index), token);

    /// <summary>Drops every entry above <paramref name="index"/> from the log, the term index and the readers; under the exclusive append lock.</summary>
    private void TruncateAfterUnderLock(long index)
    {
        DisposeReaders();
        lock (_termGate)
        {
            _log.TruncateAfter(new Lsn((ulong)index));
            _terms.TruncateAfter(index);
            _recent.ForgetAbove(index);
        }
    }

    /// <summary>
    /// The term of the entry at <paramref name="index"/>: 0 for index 0; the snapshot's term for an index the snapshot
    /// covers (as DotNext's own log answers; the log may still hold such entries, and after a snapshot from the leader
    /// they may be ones the leader never had); else the term it was appended with.
    /// </summary>
    private long TermAt(long index)
    {
        lock (_termGate)
        {
            if (index <= 0)
            {
                return 0;
            }

            return index <= _snapshotIndex ? _snapshotTerm : _terms.TermAt(index);
        }
    }

    /// <summary>
    /// Reads every record's term once, at open. Returns the LSN of the first filler above the snapshot (0 when there is
    /// none): what a crash in a snapshot's installation leaves when its fillers were durable and <c>raft.snapshot</c> was
    /// not; and the LSN of the first entry after it that is not a filler (0 when there is none), which no such crash leaves.
    /// </summary>
    private (long StrayFiller, long EntryAfterStray) RebuildTermIndex()
    {
        if (_log.LastLsn == Lsn.None)
        {
            return (0, 0);
        }

        long strayFiller = 0;
        long entryAfterStray = 0;
        using WalReader reader = _log.ReadFrom(Lsn.None);
        ulong last = _log.LastLsn.Value;
        while (reader.TryRead(out WalRecord record))
        {
            RaftFrameHeader header = RaftFrame.Read(record.Payload, record.Lsn.Value);
            _terms.Record((long)record.Lsn.Value, header.Term);
            if (strayFiller == 0 && header.IsCompacted && (long)record.Lsn.Value > _snapshotIndex)
            {
                strayFiller = (long)record.Lsn.Value;
            }
            else if (strayFiller != 0 && entryAfterStray == 0 && !header.IsCompacted)
            {
                entryAfterStray = (long)record.Lsn.Value;
            }

            if (record.Lsn.Value == last)
            {
                break;
            }
        }

        return (strayFiller, entryAfterStray);
    }

    /// <summary>
    /// Repairs, at open, what a crash in a snapshot's installation leaves (native-layout.md, section 7): fillers above the
    /// snapshot are dropped (the installation never finished; they were never committed), and a log that ends below the
    /// snapshot is filled up to it, durably, so that the next entry gets the index after the snapshot's. Fillers above the
    /// snapshot that such a crash cannot have left (committed, or followed by an entry) are refused, with nothing changed.
    /// </summary>
    /// <exception cref="InvalidDataException">The fillers above the snapshot are committed or followed by an entry: <c>raft.snapshot</c> is lost or older than the log.</exception>
    private void RepairInstallRemnants((long StrayFiller, long EntryAfterStray) found)
    {
        (long strayFiller, long entryAfterStray) = found;
        if (strayFiller > 0)
        {
            // The installation writes the commit index after raft.snapshot, and appends nothing after its fillers before
            // then: only fillers to the end of the log, above the commit index, are its leftover.
            long commitIndex = _nodeState.CommitIndex;
            if (commitIndex >= strayFiller || entryAfterStray != 0)
            {
                throw LostSnapshot(strayFiller, entryAfterStray, commitIndex);
            }

            TruncateAfterUnderLock(strayFiller - 1);
        }

        long last = (long)_log.LastLsn.Value;
        if (last < _snapshotIndex)
        {
            AppendFillers(last + 1, _snapshotIndex, _snapshotTerm);
            _log.WaitForDurable(new Lsn((ulong)_snapshotIndex));
        }
    }

    private InvalidDataException LostSnapshot(long strayFiller, long entryAfterStray, long commitIndex)
    {
        string snapshotPath = Path.Combine(_directory, SnapshotFile.FileName);
        string snapshot = _snapshotIndex == 0 ? $"'{snapshotPath}' is missing" : $"'{snapshotPath}' is at index {_snapshotIndex}";
        string committed = commitIndex >= strayFiller ? $"'{Path.Combine(_directory, NodeStateFile.FileName)}' commits up to index {commitIndex}" : "";
        string entry = entryAfterStray != 0 ? $"an entry that is not a filler follows them at index {entryAfterStray}" : "";
        string found = string.Join(" and ", new[] { committed, entry }.Where(part => part.Length > 0));
        return new InvalidDataException(
            $"{snapshot}, but the log in '{Path.Combine(_directory, LogDirectoryName)}' holds a snapshot's fillers from index " +
            $"{strayFiller}, and {found}: a crash in a snapshot's installation leaves only fillers, to the end of the log, never " +
            "committed, so raft.snapshot is lost or older than the log, and dropping the fillers would drop entries the cluster may have committed. " +
            "Nothing was changed. Restore raft.snapshot together with the log it was taken with, or remove the node's " +
            "directory and add the node back to the cluster as a new member.");
    }

    /// <summary>The in-place writer's state: a ref struct, so the payload span travels without a copy or an allocation.</summary>
    private readonly ref struct FrameSource(long term, int? commandId, bool isConfiguration, bool isCompacted, ReadOnlySpan<byte> payload)
    {
        public long Term { get; } = term;

        public int? CommandId { get; } = commandId;

        public bool IsConfiguration { get; } = isConfiguration;

        public bool IsCompacted { get; } = isCompacted;

        public ReadOnlySpan<byte> Payload { get; } = payload;
    }
}
