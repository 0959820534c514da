namespace Aletheia.Wal.Raft;

/// <summary>How <see cref="AletheiaPersistentState.Open"/> opens a node's persistent state.</summary>
public sealed class AletheiaRaftOptions
{
    /// <summary>
    /// The node's directory (created if missing): the log in its subdirectory <c>log</c>, the term, vote and commit index
    /// in <c>raft.state</c>, the last snapshot in <c>raft.snapshot</c>.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>
    /// Entries applied beyond the last snapshot after which the state machine is snapshotted and the log's older segments
    /// are removed (<see cref="WriteAheadLog.TruncateBefore"/>). Default 0: never automatically (see
    /// <see cref="AletheiaPersistentState.CompactAsync"/>). At least 0.
    /// </summary>
    public long SnapshotThreshold { get; init; }

    /// <summary>
    /// The options of the log, given its directory (<c>{Directory}/log</c>); default: <see cref="WalOptions"/>'s defaults.
    /// </summary>
    public Func<string, WalOptions>? LogOptions { get; init; }

    /// <summary>
    /// How long <see cref="AletheiaPersistentState.DisposeAsync"/> waits for the operations in progress that change the log
    /// (an append, a snapshot's installation, a commit, a compaction, a term update) to end before it gives up with a
    /// <see cref="TimeoutException"/>; those still waiting for a lock, or for the leader's stream, are cancelled at once.
    /// Default 30 s. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> to wait however long.
    /// </summary>
    public TimeSpan DisposeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Who may read and write <c>raft.state</c> and <c>raft.snapshot</c>. Default 0600 (owner only), as the log's files.</summary>
    public UnixFileMode UnixCreateMode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;
}
