namespace Aletheia.Wal.Raft;

/// <summary>A committed Raft entry handed to <see cref="IReplicatedStateMachine.Apply"/>; its payload is valid during that call only.</summary>
public readonly ref struct ReplicatedCommand
{
    internal ReplicatedCommand(long index, long term, int? commandId, bool isConfiguration, ReadOnlySpan<byte> payload)
    {
        Index = index;
        Term = term;
        CommandId = commandId;
        IsConfiguration = isConfiguration;
        Payload = payload;
    }

    /// <summary>The entry's Raft index (its LSN in the log).</summary>
    public long Index { get; }

    /// <summary>The term in which a leader created the entry.</summary>
    public long Term { get; }

    /// <summary>The command id the entry was appended with (DotNext's <c>IRaftLogEntry.CommandId</c>), if any.</summary>
    public int? CommandId { get; }

    /// <summary>Always false: configuration entries never reach the state machine (they go to the configuration storage
    /// <c>RaftCluster</c> sets, and are skipped without one). Kept for compatibility.</summary>
    public bool IsConfiguration { get; }

    /// <summary>The payload, exactly as appended; valid during the call only.</summary>
    public ReadOnlySpan<byte> Payload { get; }
}
