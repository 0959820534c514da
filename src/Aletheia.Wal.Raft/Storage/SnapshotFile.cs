using System.Buffers.Binary;

namespace Aletheia.Wal.Raft.Storage;

/// <summary>
/// <c>raft.snapshot</c>: the state machine's snapshot and the index and term of the last entry it covers (native-layout.md,
/// section 7). Written to <c>raft.snapshot.tmp</c> write-through, renamed over the old one, and the directory fsynced: a
/// crash leaves the old snapshot or the new one.
/// <code>
/// offset size field
///   0     4   magic "ARSS" (0x53535241 little-endian)
///   4     1   version (1)
///   5     3   reserved, zero
///   8     8   index of the last entry covered (int64)
///  16     8   term of that entry (int64)
///  24     4   payload length (int32)
///  28     4   CRC-32C of bytes 0..27 and the payload
///  32     n   payload: what the state machine wrote
/// </code>
/// </summary>
internal static class SnapshotFile
{
    public const string FileName = "raft.snapshot";
    public const int HeaderSize = 32;
    private const uint Magic = 0x53535241;
    private const byte Version = 1;

    public static void Write(string directory, long index, long term, ReadOnlySpan<byte> payload, UnixFileMode createMode)
    {
        string path = Path.Combine(directory, FileName);
        string temporary = path + ".tmp";
        byte[] header = new byte[HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        header[4] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), index);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), term);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(28), Crc(header.AsSpan(0, 28), payload));

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, Options = FileOptions.WriteThrough };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = createMode;
        }

        using (var file = new FileStream(temporary, options))
        {
            RandomAccess.Write(file.SafeFileHandle, header, 0);
            RandomAccess.Write(file.SafeFileHandle, payload, HeaderSize);
        }

        File.Move(temporary, path, overwrite: true);
        WriteAheadLog.SyncDirectory(directory);
    }

    /// <summary>The snapshot in <paramref name="directory"/>, or null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is damaged.</exception>
    public static (long Index, long Term, byte[] Payload)? Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic || bytes[4] != Version)
        {
            throw new InvalidDataException($"'{path}' is not a Raft snapshot of version {Version} ({bytes.Length} bytes).");
        }

        int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        if (length < 0 || length != bytes.Length - HeaderSize)
        {
            throw new InvalidDataException($"'{path}' is damaged: its header says {length} payload bytes, the file holds {bytes.Length - HeaderSize}.");
        }

        ReadOnlySpan<byte> payload = bytes.AsSpan(HeaderSize);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(28)) != Crc(bytes.AsSpan(0, 28), payload))
        {
            throw new InvalidDataException($"'{path}' is damaged: its checksum does not match.");
        }

        return (BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16)), payload.ToArray());
    }

    private static uint Crc(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        byte[] all = new byte[header.Length + payload.Length];
        header.CopyTo(all);
        payload.CopyTo(all.AsSpan(header.Length));
        return Checksum.Crc32C(all);
    }
}
