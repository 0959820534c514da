using System.Buffers.Binary;

namespace Aletheia.Wal.Raft.Storage;

/// <summary>
/// The frame of a Raft entry inside a log record (native-layout.md, section 7): a 16-byte header, then the entry's payload.
/// <code>
/// offset size field
///   0     1   version (1)
///   1     1   flags: 1 = has command id, 2 = configuration entry, 4 = compacted (a filler below an installed snapshot)
///   2     2   reserved, zero
///   4     4   command id (int32, little-endian; zero without one)
///   8     8   term (int64, little-endian)
///  16     n   payload
/// </code>
/// </summary>
internal static class RaftFrame
{
    public const int HeaderSize = 16;
    public const byte CurrentVersion = 1;

    public const byte HasCommandId = 1;
    public const byte Configuration = 2;
    public const byte Compacted = 4;

    private const byte KnownFlags = HasCommandId | Configuration | Compacted;

    public static void WriteHeader(Span<byte> destination, long term, int? commandId, bool isConfiguration, bool compacted)
    {
        byte flags = (byte)((commandId.HasValue ? HasCommandId : 0) | (isConfiguration ? Configuration : 0) | (compacted ? Compacted : 0));
        destination[0] = CurrentVersion;
        destination[1] = flags;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], commandId.GetValueOrDefault());
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], term);
    }

    /// <summary>Reads the header of the record at <paramref name="lsn"/>.</summary>
    /// <exception cref="InvalidDataException">The record is shorter than a header, of another version, or has unknown flags.</exception>
    public static RaftFrameHeader Read(ReadOnlySpan<byte> record, ulong lsn)
    {
        if (record.Length < HeaderSize)
        {
            throw new InvalidDataException($"The log record at LSN {lsn} is {record.Length} bytes: too short for a Raft entry, whose header is {HeaderSize} bytes.");
        }

        if (record[0] != CurrentVersion)
        {
            throw new InvalidDataException($"The log record at LSN {lsn} has Raft frame version {record[0]}; this build reads version {CurrentVersion}.");
        }

        byte flags = record[1];
        if ((flags & ~KnownFlags) != 0)
        {
            throw new InvalidDataException($"The log record at LSN {lsn} has unknown Raft frame flags 0x{flags:X2}.");
        }

        int commandId = BinaryPrimitives.ReadInt32LittleEndian(record[4..]);
        long term = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
        return new RaftFrameHeader(term, (flags & HasCommandId) != 0 ? commandId : null, (flags & Configuration) != 0, (flags & Compacted) != 0);
    }
}

/// <summary>A Raft frame's header, read.</summary>
internal readonly record struct RaftFrameHeader(long Term, int? CommandId, bool IsConfiguration, bool IsCompacted);
