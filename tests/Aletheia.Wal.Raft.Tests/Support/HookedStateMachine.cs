using System.Buffers;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>A state machine that records like <see cref="RecordingStateMachine"/> and calls back inside a restore (after restoring).</summary>
internal sealed class HookedStateMachine : IReplicatedStateMachine
{
    private readonly RecordingStateMachine _inner = new();

    public Action? OnRestore { get; init; }

    public IReadOnlyList<(long Index, long Term, byte[] Payload)> Applied => _inner.Applied;

    public void Apply(ReplicatedCommand command) => _inner.Apply(command);

    public void WriteSnapshot(IBufferWriter<byte> output) => _inner.WriteSnapshot(output);

    public void RestoreSnapshot(ReadOnlySpan<byte> snapshot)
    {
        _inner.RestoreSnapshot(snapshot);
        OnRestore?.Invoke();
    }
}
