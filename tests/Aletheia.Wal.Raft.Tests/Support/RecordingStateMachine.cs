using System.Buffers;
using System.Buffers.Binary;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>A state machine that keeps every command applied (index, term, payload), and snapshots them all.</summary>
internal sealed class RecordingStateMachine : IReplicatedStateMachine
{
    private readonly List<(long Index, long Term, byte[] Payload)> _applied = [];

    public int Restores { get; private set; }

    public IReadOnlyList<(long Index, long Term, byte[] Payload)> Applied
    {
        get
        {
            lock (_applied)
            {
                return _applied.ToArray();
            }
        }
    }

    public void Apply(ReplicatedCommand command)
    {
        lock (_applied)
        {
            _applied.Add((command.Index, command.Term, command.Payload.ToArray()));
        }
    }

    public void WriteSnapshot(IBufferWriter<byte> output)
    {
        lock (_applied)
        {
            Span<byte> header = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(header, _applied.Count);
            output.Write(header);
            Span<byte> entry = stackalloc byte[20];
            foreach ((long index, long term, byte[] payload) in _applied)
            {
                BinaryPrimitives.WriteInt64LittleEndian(entry, index);
                BinaryPrimitives.WriteInt64LittleEndian(entry[8..], term);
                BinaryPrimitives.WriteInt32LittleEndian(entry[16..], payload.Length);
                output.Write(entry);
                output.Write(payload);
            }
        }
    }

    public void RestoreSnapshot(ReadOnlySpan<byte> snapshot)
    {
        lock (_applied)
        {
            Restores++;
            _applied.Clear();
            int count = BinaryPrimitives.ReadInt32LittleEndian(snapshot);
            snapshot = snapshot[4..];
            for (int i = 0; i < count; i++)
            {
                long index = BinaryPrimitives.ReadInt64LittleEndian(snapshot);
                long term = BinaryPrimitives.ReadInt64LittleEndian(snapshot[8..]);
                int length = BinaryPrimitives.ReadInt32LittleEndian(snapshot[16..]);
                _applied.Add((index, term, snapshot.Slice(20, length).ToArray()));
                snapshot = snapshot[(20 + length)..];
            }
        }
    }
}
