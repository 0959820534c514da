using System.Buffers;

namespace Aletheia.Wal.Raft;

/// <summary>
/// The application's state machine behind an <see cref="AletheiaPersistentState"/>: committed entries are applied to it
/// in index order, one at a time, from one background task; it writes snapshots for compaction and is restored from them.
/// </summary>
public interface IReplicatedStateMachine
{
    /// <summary>
    /// Applies one committed entry. Called in index order, never concurrently with itself or with the other members.
    /// The payload span is valid only during the call (it points into the log's read buffer: no copy is made).
    /// </summary>
    void Apply(ReplicatedCommand command);

    /// <summary>Writes the whole state, as of the last entry applied, to <paramref name="output"/>.</summary>
    void WriteSnapshot(IBufferWriter<byte> output);

    /// <summary>Replaces the whole state with the one <see cref="WriteSnapshot"/> wrote (here or on another node).</summary>
    void RestoreSnapshot(ReadOnlySpan<byte> snapshot);
}
