using System.Buffers;
using Aletheia.Wal.Raft.Storage;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft;

public abstract partial class AletheiaPersistentState
{
    // Held while the state machine is called: by the applier for each batch, by a snapshot's taking or installation.
    private readonly SemaphoreSlim _machineGate = new(1, 1);

    // The state whose applier this thread is calling the state machine for (Apply, or WriteSnapshot at the threshold), else
    // null: a disposal made from inside that call must not wait for the applier, which is its own caller. Per thread, set
    // and cleared by the applier around the call, so no other thread ever sees it.
    [ThreadStatic]
    private static AletheiaPersistentState? t_applying;

    /// <summary>
    /// Snapshots the state machine as of the last entry applied, writes the snapshot durably (<c>raft.snapshot</c>), then
    /// removes the log's segments that lie wholly below it (<see cref="WriteAheadLog.TruncateBefore"/>).
    /// </summary>
    /// <returns>The index of the last entry the snapshot covers (0, and nothing written, when nothing was applied).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">The state was disposed before the call.</exception>
    public async ValueTask<long> CompactAsync(CancellationToken token = default)
    {
        EnterOperation();
        try
        {
            // The gate's holders (the applier, an installation) end by themselves or on disposal: no disposal token needed.
            await _machineGate.WaitAsync(token).ConfigureAwait(false);
            try
            {
                return TakeSnapshotUnderGate();
            }
            finally
            {
                _machineGate.Release();
            }
        }
        finally
        {
            _operations.Exit();
        }
    }

    private async Task ApplyLoopAsync(CancellationToken token)
    {
        WalReader? reader = null;
        long readerNext = 0;
        try
        {
            while (true)
            {
                if (LastAppliedIndex >= LastCommittedEntryIndex)
                {
                    await _applyTrigger.WaitAsync(token).ConfigureAwait(false);
                    continue;
                }

                // The gate is taken inside the try: a cancellation while waiting for it (disposal; SemaphoreSlim throws for
                // a cancelled token even when the gate is free) must still give the read lock back.
                await _appendLock.EnterReadLockAsync(token).ConfigureAwait(false);
                bool gateHeld = false;
                try
                {
                    await _machineGate.WaitAsync(token).ConfigureAwait(false);
                    gateHeld = true;
                    long commit = LastCommittedEntryIndex;
                    long from = LastAppliedIndex + 1;
                    if (reader is null || readerNext != from)
                    {
                        // First batch, or a snapshot was installed: the applier goes on after it.
                        reader?.Dispose();
                        reader = _log.ReadFrom(new Lsn((ulong)from));
                        readerNext = from;
                    }

                    while (readerNext <= commit)
                    {
                        (long Index, RaftLogEntry Entry)? configuration = ApplyAvailable(reader, ref readerNext, commit);
                        if (configuration is { } pending)
                        {
                            await ConfigurationStorage!.SaveConfigurationAsync(pending.Entry, pending.Index, token).ConfigureAwait(false);

                            // Release: as in ApplyAvailable, the index is published once the entry took effect.
                            Volatile.Write(ref _appliedIndex, pending.Index);
                        }
                        else if (readerNext <= commit)
                        {
                            await reader.WaitToReadAsync(token).ConfigureAwait(false);
                        }
                    }

                    if (_snapshotThreshold > 0 && LastAppliedIndex - SnapshotIndex >= _snapshotThreshold)
                    {
                        t_applying = this;
                        try
                        {
                            TakeSnapshotUnderGate();
                        }
                        finally
                        {
                            t_applying = null;
                        }
                    }
                }
                finally
                {
                    if (gateHeld)
                    {
                        _machineGate.Release();
                    }

                    _appendLock.Release();
                }

                _appliedWaiters.Release(LastAppliedIndex);
                _appliedEvent.Signal(resumeAll: true);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Volatile: waiters read it before they park; the interrupt below wakes those already parked.
            Volatile.Write(ref _applierFailure, e);
            _appliedWaiters.Fail(e);
            _appliedEvent.Interrupt(e);
        }
        finally
        {
            reader?.Dispose();
        }
    }

    /// <summary>
    /// Applies the records the reader has now, up to <paramref name="commit"/>; stops early at a configuration entry that
    /// a configuration storage takes, and returns it (a copy) for the caller to save asynchronously.
    /// </summary>
    private (long Index, RaftLogEntry Entry)? ApplyAvailable(WalReader reader, ref long next, long commit)
    {
        while (next <= commit && reader.TryRead(out WalRecord record))
        {
            long index = (long)record.Lsn.Value;
            if (index != next)
            {
                throw new InvalidDataException($"The applier read LSN {index} where LSN {next} was expected.");
            }

            next++;
            RaftFrameHeader header = RaftFrame.Read(record.Payload, record.Lsn.Value);
            ReadOnlySpan<byte> payload = record.Payload[RaftFrame.HeaderSize..];
            if (header.IsCompacted)
            {
                // A filler below an installed snapshot: already in the state machine.
            }
            else if (header.IsConfiguration)
            {
                // The cluster's business, never the application's: saved to the configuration storage RaftCluster sets;
                // without one (the state used outside a cluster) skipped.
                if (ConfigurationStorage is not null)
                {
                    var entry = new RaftLogEntry();
                    entry.Set(header.Term, header.CommandId, true, false, payload.ToArray());
                    return (index, entry);
                }
            }
            else
            {
                t_applying = this;
                try
                {
                    _stateMachine.Apply(new ReplicatedCommand(index, header.Term, header.CommandId, false, payload));
                }
                finally
                {
                    t_applying = null;
                }
            }

            // Release: a reader of the applied index finds the state machine changed (Apply returned before this store).
            Volatile.Write(ref _appliedIndex, index);

            // Disposal began (perhaps from inside that Apply, which then did not wait for the applier): the applier ends
            // with the entry in hand rather than applying the rest of the batch into a state being closed.
            _lifetime.Token.ThrowIfCancellationRequested();
        }

        return null;
    }

    /// <summary>Takes a snapshot as of the last entry applied; the caller holds the state machine's gate.</summary>
    private long TakeSnapshotUnderGate()
    {
        long applied = LastAppliedIndex;
        if (applied == 0 || applied == SnapshotIndex)
        {
            return applied == 0 ? 0 : applied;
        }

        var buffer = new ArrayBufferWriter<byte>();
        _stateMachine.WriteSnapshot(buffer);
        long term = TermAt(applied);
        SnapshotFile.Write(_directory, applied, term, buffer.WrittenSpan, _createMode);
        lock (_termGate)
        {
            _snapshot = buffer.WrittenSpan.ToArray();
            _snapshotTerm = term;

            // Release: SnapshotIndex readers outside the gate see the snapshot's payload and term set.
            Volatile.Write(ref _snapshotIndex, applied);
        }

        // Segments wholly below the snapshot go; the one holding applied + 1 stays (readers of later entries are undisturbed).
        _log.TruncateBefore(new Lsn((ulong)applied + 1));
        return applied;
    }

    /// <summary>Installs a snapshot received from the leader at <paramref name="index"/>; the caller holds the exclusive append lock.</summary>
    private async ValueTask InstallSnapshotUnderLockAsync<TEntryImpl>(TEntryImpl snapshot, long index, CancellationToken token)
        where TEntryImpl : IRaftLogEntry
    {
        if (index <= LastCommittedEntryIndex)
        {
            throw new InvalidOperationException($"A snapshot at {index} cannot be installed: it is at or below the commit index {LastCommittedEntryIndex}.");
        }

        byte[] bytes;
        if (snapshot.TryGetMemory(out ReadOnlyMemory<byte> memory))
        {
            bytes = memory.ToArray();
        }
        else
        {
            var buffer = new ArrayBufferWriter<byte>();
            await DataTransferObject.WriteToAsync(snapshot, buffer, token).ConfigureAwait(false);
            bytes = buffer.WrittenSpan.ToArray();
        }

        // Each is released only if taken: a cancellation while waiting for the commit lock must give the gate back, or
        // the applier would never run again.
        bool gateHeld = false;
        bool commitLockHeld = false;
        try
        {
            await _machineGate.WaitAsync(token).ConfigureAwait(false);
            gateHeld = true;
            await _commitLock.AcquireAsync(token).ConfigureAwait(false);
            commitLockHeld = true;

            // The point of no return: from here on the token is not observed. Fillers, snapshot file, state machine,
            // snapshot, commit and applied indexes change as one step: a cancellation in the middle would leave fillers
            // above the snapshot (read as empty commands), or the state machine restored under the old applied index (the
            // applier would then apply the snapshot's entries a second time).
            long last = (long)_log.LastLsn.Value;
            if (last > index && TermAt(index) != snapshot.Term)
            {
                TruncateAfterUnderLock(index); // the log after the snapshot does not follow from it (Raft, section 7)
            }
            else if (last < index)
            {
                // The fillers are durable before raft.snapshot names the index: a crash in between leaves fillers above
                // the old snapshot, which Open drops (native-layout.md, section 7).
                AppendFillers(last + 1, index, snapshot.Term);
                await WaitDurableAsync(index, CancellationToken.None).ConfigureAwait(false);
            }

            SnapshotFile.Write(_directory, index, snapshot.Term, bytes, _createMode);
            _stateMachine.RestoreSnapshot(bytes);
            lock (_termGate)
            {
                _snapshot = bytes;
                _snapshotTerm = snapshot.Term;

                // Release: readers of SnapshotIndex outside the gate see the payload and the term set.
                Volatile.Write(ref _snapshotIndex, index);
            }

            CommitUnderLock(index);

            // Release: the applier, and waiters, see the state machine restored before they see the index.
            Volatile.Write(ref _appliedIndex, index);
            DisposeReaders();
            _log.TruncateBefore(new Lsn((ulong)index + 1));
        }
        finally
        {
            if (commitLockHeld)
            {
                _commitLock.Release();
            }

            if (gateHeld)
            {
                _machineGate.Release();
            }
        }

        _appliedWaiters.Release(index);
        _appliedEvent.Signal(resumeAll: true);
    }
}
