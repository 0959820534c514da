using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Aletheia.Wal.Raft;

namespace RaftKv;

/// <summary>
/// The replicated state: a dictionary of strings. A command is one put: key length (uint16, little-endian), the key and
/// the value, both UTF-8. A snapshot is the entry count (int32) and each key and value with their lengths.
/// </summary>
internal sealed class KeyValueStore : IReplicatedStateMachine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _values.Count;
            }
        }
    }

    public static byte[] Put(string key, string value)
    {
        int keyBytes = Encoding.UTF8.GetByteCount(key);
        if (keyBytes > ushort.MaxValue)
        {
            throw new ArgumentException($"A key is at most {ushort.MaxValue} bytes of UTF-8; this one is {keyBytes}.", nameof(key));
        }

        byte[] command = new byte[2 + keyBytes + Encoding.UTF8.GetByteCount(value)];
        BinaryPrimitives.WriteUInt16LittleEndian(command, (ushort)keyBytes);
        Encoding.UTF8.GetBytes(key, command.AsSpan(2));
        Encoding.UTF8.GetBytes(value, command.AsSpan(2 + keyBytes));
        return command;
    }

    public bool TryGet(string key, out string? value)
    {
        lock (_gate)
        {
            return _values.TryGetValue(key, out value);
        }
    }

    public void Apply(ReplicatedCommand command)
    {
        ReadOnlySpan<byte> payload = command.Payload;
        if (payload.Length < 2)
        {
            return; // a leader's empty barrier entry
        }

        int keyBytes = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        string key = Encoding.UTF8.GetString(payload.Slice(2, keyBytes));
        string value = Encoding.UTF8.GetString(payload[(2 + keyBytes)..]);
        lock (_gate)
        {
            _values[key] = value;
        }
    }

    public void WriteSnapshot(IBufferWriter<byte> output)
    {
        lock (_gate)
        {
            Span<byte> number = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(number, _values.Count);
            output.Write(number);
            foreach ((string key, string value) in _values)
            {
                WriteString(output, key);
                WriteString(output, value);
            }
        }
    }

    public void RestoreSnapshot(ReadOnlySpan<byte> snapshot)
    {
        lock (_gate)
        {
            _values.Clear();
            int count = BinaryPrimitives.ReadInt32LittleEndian(snapshot);
            snapshot = snapshot[4..];
            for (int i = 0; i < count; i++)
            {
                string key = ReadString(ref snapshot);
                _values[key] = ReadString(ref snapshot);
            }
        }
    }

    private static void WriteString(IBufferWriter<byte> output, string text)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        Span<byte> span = output.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        Encoding.UTF8.GetBytes(text, span[4..]);
        output.Advance(4 + length);
    }

    private static string ReadString(ref ReadOnlySpan<byte> input)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(input);
        string text = Encoding.UTF8.GetString(input.Slice(4, length));
        input = input[(4 + length)..];
        return text;
    }
}
