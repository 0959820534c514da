using System.Runtime.CompilerServices;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Threading;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using DotNext.Threading;

namespace Aletheia.Wal.Raft;

/// <summary>
/// The persistent state of a DotNext Raft node (<see cref="IPersistentState"/>) over an Aletheia <see cref="WriteAheadLog"/>:
/// Raft index = LSN; each entry's term, command id and payload framed in its record (native-layout.md, section 7); the
/// term, the vote and the commit index in <c>raft.state</c>, written write-through before the call that changed them
/// returns; committed entries applied in order to an <see cref="IReplicatedStateMachine"/>; compaction by snapshot of the
/// state machine and <see cref="WriteAheadLog.TruncateBefore"/>. Thread-safe.
/// </summary>
/// <remarks>
/// <para>Give it to a cluster as <c>cluster.AuditTrail = state.AsPersistentState</c>. The object is an
/// <see cref="IPersistentState"/> at run time; the declaration cannot say so, since DotNext's interface has a member
/// only DotNext's own assembly can implement at compile time (see <see cref="AsPersistentState"/>).</para>
/// <para>Appends that Raft makes on a leader (<see cref="AppendAsync{TEntryImpl}(TEntryImpl, CancellationToken)"/>)
/// run concurrently: each takes its LSN and is copied into the log's ring, and returns; the log writes it with the
/// others (group commit) while the leader replicates it, and <see cref="CommitAsync"/> waits for the write before it
/// commits. Appends that may replace entries (a follower's, at an index) are exclusive, and return once their entries
/// are durable, as Raft requires of a node before it answers.</para>
/// </remarks>
public abstract partial class AletheiaPersistentState : IAuditTrail<IRaftLogEntry>, IDisposable, IAsyncDisposable
{
    private const string LogDirectoryName = "log";
    private const string WalHeadFileName = "wal.head"; // the log's head file, created with the log (native-layout.md)

    private readonly WriteAheadLog _log;
    private readonly NodeStateFile _nodeState;
    private readonly IReplicatedStateMachine _stateMachine;
    private readonly string _directory;
    private readonly UnixFileMode _createMode;
    private readonly long _snapshotThreshold;

    // Appends at the tail share it; anything that may remove entries (a follower's append at an index, a snapshot's
    // installation) holds it alone, and so do reads against those.
    private readonly AsyncReaderWriterLock _appendLock = new();

    // Pairs each LSN with its term in the term index: taken around the in-place append, which hands out the LSN.
    private readonly object _termGate = new();
    private readonly TermIndex _terms = new();

    // Serializes writes of raft.state (term, vote, commit index share its copies).
    private readonly object _stateGate = new();
    private readonly AsyncExclusiveLock _commitLock = new();

    private readonly AsyncTrigger _appliedEvent = new();
    private readonly AppliedWaiters _appliedWaiters = new();
    private readonly Func<long> _readApplied;
    private readonly AsyncAutoResetEvent _applyTrigger = new(initialState: false);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Task _applier;

    // Disposal: the operations that change the log or raft.state are counted, and those that wait for a lock or for the
    // leader's stream wait with the caller's token combined with _lifetime's (pooled sources: nothing allocated per call),
    // so that disposal cancels them; it then waits at most _disposeTimeout for the rest to end, and _closed completes once
    // the log and raft.state are closed.
    private readonly InFlightOperations _operations = new();
    private readonly CancellationTokenMultiplexer _cancellation = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _disposeTimeout;

    private long _commitIndex;        // Volatile: written under _commitLock, read anywhere
    private long _durableCommitIndex; // Volatile: the commit index on disk in raft.state; written under _commitLock
    private long _appliedIndex;    // Volatile: written by the applier (or a snapshot's installation), read anywhere
    private long _snapshotIndex;   // guarded by _termGate; read with Volatile where no gate is held
    private long _snapshotTerm;    // guarded by _termGate
    private byte[] _snapshot = []; // guarded by _termGate: the last snapshot's payload, served to lagging followers
    private Exception? _applierFailure;
    private int _disposed;

    private protected AletheiaPersistentState(Parts parts)
    {
        _log = parts.Log;
        _nodeState = parts.NodeState;
        _stateMachine = parts.StateMachine;
        _directory = parts.Directory;
        _createMode = parts.CreateMode;
        _snapshotThreshold = parts.SnapshotThreshold;
        _disposeTimeout = parts.DisposeTimeout;
        _snapshotIndex = parts.SnapshotIndex;
        _snapshotTerm = parts.SnapshotTerm;
        _snapshot = parts.Snapshot;
        _appliedIndex = parts.SnapshotIndex;
        _readApplied = () => LastAppliedIndex;
        RepairInstallRemnants(RebuildTermIndex());

        // The commit index on disk may lie above what the log kept: a follower's commit is written while the log writes
        // the entries it came with, and a crash can keep the one and not the other. It never lies below the snapshot,
        // whose entries were all committed. CommitAsync's fast path compares with the index on disk: it takes the same
        // clamped value, so that a commit above the log kept is made and written (replacing the value on disk).
        _commitIndex = Math.Max(Math.Min(_nodeState.CommitIndex, LastEntryIndex), _snapshotIndex);
        _durableCommitIndex = _commitIndex;
        _applier = Task.Run(() => ApplyLoopAsync(_lifetime.Token));
    }

    /// <summary>Opens (or creates) a node's persistent state in <see cref="AletheiaRaftOptions.Directory"/>.</summary>
    /// <param name="options">Where, and how.</param>
    /// <param name="stateMachine">The application's state machine; restored from the last snapshot first, if there is one.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (named in the message).</exception>
    /// <exception cref="WalException">The log cannot be opened (see <see cref="WriteAheadLog.Open"/>).</exception>
    /// <exception cref="InvalidDataException"><c>raft.state</c> or <c>raft.snapshot</c> is damaged; or <c>raft.state</c> is
    /// missing or holds no state while the log exists (even empty) or a snapshot exists (the term and vote are lost: starting at
    /// term 0 could make the node vote twice in one term); or the log holds fillers above the snapshot that a crashed
    /// installation cannot have left (committed, or followed by an entry): <c>raft.snapshot</c> is lost or older than the
    /// log, and nothing is changed.</exception>
    /// <exception cref="PlatformNotSupportedException">The runtime has no dynamic code (Native AOT): see <see cref="AsPersistentState"/>.</exception>
    public static AletheiaPersistentState Open(AletheiaRaftOptions options, IReplicatedStateMachine stateMachine)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stateMachine);
        if (string.IsNullOrWhiteSpace(options.Directory))
        {
            throw new ArgumentException("AletheiaRaftOptions.Directory must name a directory; it is empty.", nameof(options));
        }

        if (options.SnapshotThreshold < 0)
        {
            throw new ArgumentException($"AletheiaRaftOptions.SnapshotThreshold must be at least 0; it is {options.SnapshotThreshold}.", nameof(options));
        }

        if ((options.DisposeTimeout <= TimeSpan.Zero && options.DisposeTimeout != System.Threading.Timeout.InfiniteTimeSpan)
            || options.DisposeTimeout > TimeSpan.FromMilliseconds(int.MaxValue))
        {
            throw new ArgumentException(
                $"AletheiaRaftOptions.DisposeTimeout must be positive and at most {TimeSpan.FromMilliseconds(int.MaxValue)}, or Timeout.InfiniteTimeSpan; it is {options.DisposeTimeout}.",
                nameof(options));
        }

        string directory = Path.GetFullPath(options.Directory);
        System.IO.Directory.CreateDirectory(directory);
        string logDirectory = Path.Combine(directory, LogDirectoryName);
        WalOptions walOptions = options.LogOptions?.Invoke(logDirectory) ?? new WalOptions { Directory = logDirectory };
        if (Path.GetFullPath(walOptions.Directory) != logDirectory)
        {
            throw new ArgumentException($"AletheiaRaftOptions.LogOptions must keep the log's directory '{logDirectory}'; it gave '{walOptions.Directory}'.", nameof(options));
        }

        var snapshot = SnapshotFile.Read(directory);
        WriteAheadLog? log = null;
        NodeStateFile? nodeState = null;
        try
        {
            // raft.state before the log is created, the log first once it exists: a raft.state without a state written (or
            // missing) is a new node's only when the node has no past, and refused otherwise (NodeStateFile.Open says why).
            // A log created, even empty, is a past: raft.state was written before it, and the node may have voted since.
            string walHead = Path.Combine(logDirectory, WalHeadFileName);
            bool logExisted = File.Exists(walHead)
                || (System.IO.Directory.Exists(logDirectory) && System.IO.Directory.EnumerateFiles(logDirectory, "*.wal").Any());
            string? snapshotHistory = snapshot is { } past ? $"a snapshot at index {past.Index} (term {past.Term})" : null;
            if (!logExisted)
            {
                nodeState = NodeStateFile.Open(directory, options.UnixCreateMode, snapshotHistory);
            }

            log = WriteAheadLog.Open(walOptions);
            nodeState ??= NodeStateFile.Open(
                directory,
                options.UnixCreateMode,
                log.LastLsn != Lsn.None ? $"entries up to index {log.LastLsn.Value}"
                    : snapshotHistory ?? $"no entries but exists ('{walHead}'), and raft.state is written before the log is created");
            if (snapshot is { } s)
            {
                stateMachine.RestoreSnapshot(s.Payload);
            }

            var parts = new Parts(
                log, nodeState, stateMachine, directory, options.UnixCreateMode, options.SnapshotThreshold, options.DisposeTimeout,
                snapshot?.Index ?? 0, snapshot?.Term ?? 0, snapshot?.Payload ?? []);
            return PersistentStateType.Create(parts);
        }
        catch
        {
            log?.Dispose();
            nodeState?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// This object as DotNext's <see cref="IPersistentState"/>, for <c>RaftCluster.AuditTrail</c>. (The object is one: its
    /// type, made once per process with Reflection.Emit, declares the interface, which C# cannot declare outside DotNext
    /// since DotNext 6 gave <c>IPersistentState.ConfigurationStorage</c> an <c>internal set</c>.)
    /// </summary>
    public IPersistentState AsPersistentState => (IPersistentState)this;

    /// <summary>The log underneath (tests look at its durable LSN).</summary>
    internal WriteAheadLog Log => _log;

    /// <summary>The lock appends and reads share, and cuts and installations hold alone (tests look at its holders).</summary>
    internal DotNext.Threading.AsyncReaderWriterLock AppendLock => _appendLock;

    /// <summary>How many operations that change the log or raft.state are in progress (tests wait for one to have entered).</summary>
    internal long OperationsInProgress => _operations.Count;

    /// <summary>The lock commits take (tests hold it to stall a commit or a snapshot's installation).</summary>
    internal AsyncExclusiveLock CommitLock => _commitLock;

    /// <summary>The gate held while the state machine is called (tests look whether it is held).</summary>
    internal SemaphoreSlim MachineGate => _machineGate;

    /// <summary>The node's directory (full path).</summary>
    public string Directory => _directory;

    /// <summary>The last term this node knows of, as stored (durable).</summary>
    public virtual long Term
    {
        get
        {
            lock (_stateGate)
            {
                return _nodeState.Term;
            }
        }
    }

    /// <summary>The index of the last entry in the log (= its last LSN), committed or not; 0 for an empty log.</summary>
    // Volatile: pairs with the release store of an installed snapshot's index (made once its fillers are appended).
    public long LastEntryIndex => Math.Max((long)_log.LastLsn.Value, Volatile.Read(ref _snapshotIndex));

    /// <summary>The commit index: durable in <c>raft.state</c> before the <see cref="CommitAsync"/> that set it returns.</summary>
    // Acquire: pairs with the release store in CommitUnderLock.
    public long LastCommittedEntryIndex => Volatile.Read(ref _commitIndex);

    /// <summary>The index of the last entry applied to the state machine.</summary>
    // Acquire: pairs with the applier's release store after Apply returned.
    public long LastAppliedIndex => Volatile.Read(ref _appliedIndex);

    /// <summary>The index of the last entry the current snapshot covers (0 without one).</summary>
    // Acquire: pairs with the release stores in TakeSnapshotUnderGate and InstallSnapshotUnderLockAsync (payload and term set first).
    public long SnapshotIndex => Volatile.Read(ref _snapshotIndex);

    /// <summary>Entries read from this log always say their length.</summary>
    public bool IsLogEntryLengthAlwaysPresented => true;

    /// <summary>The cluster configuration storage that <c>RaftCluster</c> sets; committed configuration entries are saved to
    /// it, never applied to the state machine. Without one (the state used outside a cluster) they are skipped.</summary>
    public virtual IClusterConfigurationStorage? ConfigurationStorage { get; set; }

    /// <summary>True when the node voted for no one in the current term, or for <paramref name="id"/> (Raft's rule: one vote per term).</summary>
    public virtual bool IsVotedFor(in ClusterMemberId id)
    {
        lock (_stateGate)
        {
            return _nodeState.Vote is not { } vote || vote == id;
        }
    }

    /// <summary>Increments the term and records the vote for <paramref name="member"/> (a candidate votes for itself), durably.</summary>
    /// <returns>The new term, on disk with the vote.</returns>
    public virtual ValueTask<long> IncrementTermAsync(ClusterMemberId member, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<long>(token);
        }

        EnterOperation();
        try
        {
            lock (_stateGate)
            {
                long term = _nodeState.Term + 1;
                _nodeState.Write(term, member, LastCommittedEntryIndex);
                return new ValueTask<long>(term);
            }
        }
        finally
        {
            _operations.Exit();
        }
    }

    /// <summary>Stores <paramref name="term"/> (and forgets the vote when <paramref name="resetLastVote"/>), durably, before it returns.</summary>
    public virtual ValueTask UpdateTermAsync(long term, bool resetLastVote, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(token);
        }

        EnterOperation();
        try
        {
            lock (_stateGate)
            {
                _nodeState.Write(term, resetLastVote ? null : _nodeState.Vote, LastCommittedEntryIndex);
            }
        }
        finally
        {
            _operations.Exit();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Records the vote for <paramref name="member"/> in the current term, durably, before it returns.</summary>
    public virtual ValueTask UpdateVotedForAsync(ClusterMemberId member, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(token);
        }

        EnterOperation();
        try
        {
            lock (_stateGate)
            {
                _nodeState.Write(_nodeState.Term, member, LastCommittedEntryIndex);
            }
        }
        finally
        {
            _operations.Exit();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Completes once every committed entry (as of the call) is applied to the state machine.</summary>
    public Task InitializeAsync(CancellationToken token = default) => WaitForApplyAsync(LastCommittedEntryIndex, token).AsTask();

    /// <summary>
    /// Commits every entry up to <paramref name="endIndex"/>, once those entries are durable in this node's log: the
    /// commit index is on disk (<c>raft.state</c>, write-through) when this returns, and the entries are applied in the
    /// background. Concurrent callers are
    /// served in turn; one whose index is already committed returns at once.
    /// </summary>
    /// <returns>How many entries this call committed (0 when <paramref name="endIndex"/> was committed already).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="endIndex"/> is negative or above <see cref="LastEntryIndex"/>.</exception>
    public ValueTask<long> CommitAsync(long endIndex, CancellationToken token = default)
    {
        if (endIndex < 0 || endIndex > LastEntryIndex)
        {
            return ValueTask.FromException<long>(new ArgumentOutOfRangeException(
                nameof(endIndex), endIndex, $"The commit index must be from 0 to the last entry's index, {LastEntryIndex}."));
        }

        // Volatile: a fresh look at the flag DisposeAsync sets.
        if (Volatile.Read(ref _disposed) != 0)
        {
            return ValueTask.FromException<long>(new ObjectDisposedException(GetType().Name));
        }

        // Acquire: pairs with the release store made once raft.state holds the index.
        if (endIndex <= Volatile.Read(ref _durableCommitIndex))
        {
            return new ValueTask<long>(0L);
        }

        // CommitSlowAsync exits the operation.
        return _operations.TryEnter() ? CommitSlowAsync(endIndex, token) : ValueTask.FromException<long>(new ObjectDisposedException(GetType().Name));
    }

    /// <summary>Completes at the next application of entries to the state machine.</summary>
    // Volatile: pairs with the applier's release store of its failure (made before it interrupts the waiters).
    public ValueTask WaitForApplyAsync(CancellationToken token = default) =>
        Volatile.Read(ref _applierFailure) is { } failure ? ValueTask.FromException(failure) : _appliedEvent.WaitAsync(token);

    /// <summary>Completes once the entry at <paramref name="index"/> is applied to the state machine.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public ValueTask WaitForApplyAsync(long index, CancellationToken token = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (Volatile.Read(ref _applierFailure) is { } failure) // as above
        {
            return ValueTask.FromException(failure);
        }

        return index <= LastAppliedIndex ? ValueTask.CompletedTask : _appliedWaiters.WaitAsync(index, _readApplied, token);
    }

    /// <summary>
    /// Closes the state: later calls are refused (<see cref="ObjectDisposedException"/>); the applier stops; operations still
    /// waiting for a lock or for the leader's stream (a follower's append, a snapshot's installation that does not hold the
    /// state machine yet) are cancelled and end with <see cref="OperationCanceledException"/>; those past that point (a
    /// snapshot's installation runs to its end once it holds the state machine, an append copies its entry, a commit
    /// writes raft.state) are waited for, at most <see cref="AletheiaRaftOptions.DisposeTimeout"/>; then the log is closed
    /// (making what was appended durable) and raft.state. Reads are never waited for: one in progress ends with the
    /// entries it collected, or with <see cref="ObjectDisposedException"/> if it still needed the log. Calling it again
    /// waits again for the same closing. Called from inside <see cref="IReplicatedStateMachine.Apply"/> (or a snapshot
    /// taken at <see cref="AletheiaRaftOptions.SnapshotThreshold"/>), it waits for the other operations only: the applier
    /// ends when that call returns, and the log and raft.state are closed after it.
    /// </summary>
    /// <exception cref="TimeoutException">Operations were still in progress after <see cref="AletheiaRaftOptions.DisposeTimeout"/>:
    /// the last of them to end closes the log and raft.state (named in the message).</exception>
    public void Dispose()
    {
        DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    /// <summary>As <see cref="Dispose"/>.</summary>
    /// <exception cref="TimeoutException">As for <see cref="Dispose"/>.</exception>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    public async ValueTask DisposeAsync()
    {
        // Full fence, one disposer: every member reads the flag with Volatile.Read, and the operations that change the log
        // or raft.state enter _operations, which Close refuses from now on (see InFlightOperations.TryEnter).
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Task drained = _operations.Close();
            _lifetime.Cancel();
            _ = CloseWhenEndedAsync(drained); // completes _closed, with the failure if closing failed
        }

        // From inside the applier's own call of the state machine: the applier ends once that call returns, so waiting for
        // it (for the closing, which follows it) would wait for this caller. Only the other operations are waited for; the
        // log and raft.state are closed after this returns, and a later DisposeAsync waits for that.
        Task closed = t_applying == this ? _operations.Close() : _closed.Task;
        if (_disposeTimeout == System.Threading.Timeout.InfiniteTimeSpan || closed.IsCompleted)
        {
            await closed.ConfigureAwait(false);
        }
        else
        {
            try
            {
                await closed.WaitAsync(_disposeTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!closed.IsCompleted)
            {
                throw NotClosedInTime();
            }
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Waits for the applier and the operations in progress to end, then closes what they used; completes <see cref="_closed"/>.</summary>
    private async Task CloseWhenEndedAsync(Task drained)
    {
        try
        {
            // The applier ends on the cancellation of _lifetime (it catches the cancellation itself).
            await _applier.ConfigureAwait(false);
            await drained.ConfigureAwait(false);
            _appliedEvent.Interrupt(new ObjectDisposedException(GetType().Name));
            _appliedWaiters.Fail(new ObjectDisposedException(GetType().Name));
            CloseReaderPool();
            await _log.DisposeAsync().ConfigureAwait(false);
            lock (_stateGate)
            {
                _nodeState.Dispose();
            }

            // The append lock is left undisposed: a read may still hold it (reads are not waited for), and its Release
            // must not meet a disposed lock. Every other user of these has ended.
            _commitLock.Dispose();
            _appliedEvent.Dispose();
            _applyTrigger.Dispose();
            _lifetime.Dispose();
            _closed.TrySetResult();
        }
        catch (Exception e)
        {
            _closed.TrySetException(e);
        }
    }

    private TimeoutException NotClosedInTime()
    {
        long count = _operations.Count;
        var waits = new List<string>(2);
        if (count > 0)
        {
            waits.Add(count == 1
                ? "1 operation that changes the log (an append, a snapshot's installation, a commit, a compaction or a term update) has not ended"
                : $"{count} operations that change the log (appends, a snapshot's installation, commits, a compaction or term updates) have not ended");
        }

        if (!_applier.IsCompleted && t_applying != this) // from inside the applier's call, the applier is not waited for
        {
            waits.Add("the applier has not ended (IReplicatedStateMachine.Apply or WriteSnapshot, or the configuration storage, may be what it waits for)");
        }

        if (waits.Count == 0)
        {
            waits.Add("closing the log (which makes what was appended durable first) has not finished");
        }

        string installation = count > 0
            ? " A snapshot's installation runs to its end once it holds the state machine (IReplicatedStateMachine.RestoreSnapshot may be what it waits for)."
            : "";
        return new TimeoutException(
            $"The persistent state in '{_directory}' was not closed within its DisposeTimeout ({_disposeTimeout.TotalMilliseconds:0} ms): " +
            $"{string.Join(", and ", waits)}.{installation} The log and raft.state are closed when the last one ends; DisposeAsync waits for that again.");
    }

    /// <summary>The commit that writes raft.state; the caller entered the operation, which this exits.</summary>
    /// <remarks>
    /// Its waits take the caller's token alone: the log's write ends by itself, and the commit lock's holders (commits, a
    /// follower's append, an installation) end by themselves or are cancelled by disposal.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private async ValueTask<long> CommitSlowAsync(long endIndex, CancellationToken token)
    {
        try
        {
            // Raft counts a leader in a majority only for entries on its disk: a leader's appends return before their write.
            long written = Math.Min(endIndex, (long)_log.LastLsn.Value);
            if (written > 0)
            {
                await WaitDurableAsync(written, token).ConfigureAwait(false);
            }

            await _commitLock.AcquireAsync(token).ConfigureAwait(false);
            try
            {
                return CommitUnderLock(endIndex);
            }
            finally
            {
                _commitLock.Release();
            }
        }
        finally
        {
            _operations.Exit();
        }
    }

    /// <summary>
    /// Advances the commit index to <paramref name="endIndex"/> (if higher), starts the applier on it, then writes it to
    /// <c>raft.state</c> (write-through) unless a higher index is there already; the caller holds the commit lock.
    /// </summary>
    /// <remarks>
    /// The applier may apply entries before the index is on disk: committed entries are durable on a majority of the
    /// cluster whatever this node's file says, and after a crash the applier replays from the index on disk, a lower
    /// bound. So the disk write is off the path from commit to application, and is still done before the call returns.
    /// </remarks>
    /// <returns>How many entries this call committed.</returns>
    private long CommitUnderLock(long endIndex)
    {
        long old = LastCommittedEntryIndex;
        if (endIndex > old)
        {
            // Release: the applier, woken next, reads entries up to the index it sees here.
            Volatile.Write(ref _commitIndex, endIndex);
            _applyTrigger.Set();
        }

        long target = LastCommittedEntryIndex;

        // Only this method writes it, under the commit lock: the read sees the last value written.
        if (target > Volatile.Read(ref _durableCommitIndex))
        {
            lock (_stateGate)
            {
                _nodeState.Write(_nodeState.Term, _nodeState.Vote, target);
            }

            // Release: a CommitAsync that sees it returns at once, its index on disk.
            Volatile.Write(ref _durableCommitIndex, target);
        }

        return Math.Max(0, endIndex - old);
    }

    /// <summary>Enters an operation that changes the log or raft.state (the caller exits it in a finally).</summary>
    /// <exception cref="ObjectDisposedException">Disposal has begun.</exception>
    private void EnterOperation() => ObjectDisposedException.ThrowIf(!_operations.TryEnter(), this);

    /// <summary>True when an <see cref="OperationCanceledException"/> came from disposal, not from the caller's <paramref name="token"/>.</summary>
    private bool CancelledByDisposal(CancellationToken token) => !token.IsCancellationRequested && _lifetime.IsCancellationRequested;

    /// <summary>What <see cref="Open"/> opened, handed to the constructor of the type made at run time.</summary>
    internal sealed record Parts(
        WriteAheadLog Log,
        NodeStateFile NodeState,
        IReplicatedStateMachine StateMachine,
        string Directory,
        UnixFileMode CreateMode,
        long SnapshotThreshold,
        TimeSpan DisposeTimeout,
        long SnapshotIndex,
        long SnapshotTerm,
        byte[] Snapshot);
}
