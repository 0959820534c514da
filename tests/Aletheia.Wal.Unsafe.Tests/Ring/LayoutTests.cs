using System.Buffers.Binary;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aletheia.Wal.Native;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;
using Xunit;

namespace Aletheia.Wal.Tests.Ring;

/// <summary>Every padded or native layout: its size and every field offset, private fields included.</summary>
public sealed class LayoutTests
{
    public static TheoryData<Type, int, string[]> Layouts => new()
    {
        { typeof(ProducerCursor), 256, ["Tail@0", "CachedHead@8"] },
        { typeof(ConsumerCursor), 256, ["Head@0", "ReleasedRecords@8", "ReleasedBytes@16"] },
        { typeof(RingControl), 512, ["Producer@0", "Consumer@256"] },
        { typeof(RingRecordHeader), 8, ["State@0", "ClaimedSize@4"] },
        { typeof(PaddedInt64), 256, ["Value@128"] },
        { typeof(FrameHeader), 16, ["PayloadLength@0", "Crc@4", "Lsn@8"] },
        { typeof(BatchHeader), 24, ["Tag@0", "Crc@4", "FirstLsn@8", "RecordCount@16", "Flags@20"] },
        {
            typeof(SegmentHeader), 64,
            ["Magic@0", "FormatVersion@8", "HeaderSize@12", "SegmentNumber@16", "FirstLsn@24", "LogId@32", "SegmentSize@40", "MaxWriteBytes@48", "Reserved0@52", "Reserved1@56", "Crc@60"]
        },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Size_and_every_field_offset(Type type, int size, string[] fields)
    {
        Assert.Equal(size, (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!);
        Assert.Equal(size, Marshal.SizeOf(type));
        string[] actual = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => $"{f.Name}@{f.GetCustomAttribute<FieldOffsetAttribute>()?.Value ?? -1}")
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(fields.Order(StringComparer.Ordinal).ToArray(), actual);
        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            Assert.Equal(field.GetCustomAttribute<FieldOffsetAttribute>()!.Value, (int)Marshal.OffsetOf(type, field.Name));
        }
    }

    [Fact]
    public void Wal_head_holds_two_identical_copies_with_every_field_at_its_offset()
    {
        using var temp = new Support.TempDirectory();
        var head = new LogHead(LogId: 0x1122334455667788, Segment: 7, FirstLsn: 4242, Sequence: 1);
        LogHeadFile.Create(WalStorage.Files, temp.Path, head);
        var next = head with
        {
            Segment = 9, FirstLsn = 5000, Sequence = 2, CutFrom = 6000, CutTo = 6100, HeadOpened = true,
            RewindCount = 3, RewindLsn = 5500, RewindSegment = 11, RewindOffset = 4096 + 64, RewindBatchLsn = 5490, RewindZeroTo = 70_000,
        };
        LogHeadFile.Write(WalStorage.Files, temp.Path, next);
        byte[] bytes = File.ReadAllBytes(LogHeadFile.PathOf(temp.Path));
        Assert.Equal(LogHeadFile.FileBytes, bytes.Length);
        Assert.Equal([0, 4096], LogHeadFile.CopyOffsets.ToArray());
        foreach (int copy in LogHeadFile.CopyOffsets)
        {
            ReadOnlySpan<byte> c = bytes.AsSpan(copy, LogHeadFile.CopyBytes);
            Assert.Equal(LogHeadFile.MagicValue, BinaryPrimitives.ReadUInt64LittleEndian(c));
            Assert.Equal(SegmentHeader.CurrentFormatVersion, BinaryPrimitives.ReadUInt32LittleEndian(c[8..]));
            Assert.Equal(128u, BinaryPrimitives.ReadUInt32LittleEndian(c[12..]));
            Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(c[16..]));
            Assert.Equal(head.LogId, BinaryPrimitives.ReadUInt64LittleEndian(c[24..]));
            Assert.Equal(9ul, BinaryPrimitives.ReadUInt64LittleEndian(c[32..]));
            Assert.Equal(5000ul, BinaryPrimitives.ReadUInt64LittleEndian(c[40..]));
            Assert.Equal(6000ul, BinaryPrimitives.ReadUInt64LittleEndian(c[48..]));
            Assert.Equal(6100ul, BinaryPrimitives.ReadUInt64LittleEndian(c[56..]));
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(c[64..]));
            Assert.False(c[68..72].ContainsAnyExcept((byte)0));
            Assert.Equal(3L, BinaryPrimitives.ReadInt64LittleEndian(c[72..]));
            Assert.Equal(5500ul, BinaryPrimitives.ReadUInt64LittleEndian(c[80..]));
            Assert.Equal(11ul, BinaryPrimitives.ReadUInt64LittleEndian(c[88..]));
            Assert.Equal(4096L + 64, BinaryPrimitives.ReadInt64LittleEndian(c[96..]));
            Assert.Equal(5490ul, BinaryPrimitives.ReadUInt64LittleEndian(c[104..]));
            Assert.Equal(70_000L, BinaryPrimitives.ReadInt64LittleEndian(c[112..]));
            Assert.False(c[120..124].ContainsAnyExcept((byte)0));
            Assert.Equal(Crc32C.Compute(c[..124]), BinaryPrimitives.ReadUInt32LittleEndian(c[124..]));
        }

        Assert.False(bytes.AsSpan(128, 4096 - 128).ContainsAnyExcept((byte)0));
        Assert.Equal(next, LogHeadFile.Read(WalStorage.Files, temp.Path).Head);
    }

    [Fact]
    public unsafe void Opening_write_end_marker_and_salted_frame_are_laid_out_as_documented()
    {
        byte[] opening = new byte[SegmentHeader.OpeningWriteBytes];
        const ulong LogId = 0xABCDEF, Number = 3, FirstLsn = 77;
        uint salt = SegmentSalt.Of(LogId, Number);
        SegmentHeader.Write(opening, Number, FirstLsn, LogId, 1 << 20, 4096 + 24);
        BatchHeader.WriteEndMarker(opening.AsSpan(SegmentHeader.Size), FirstLsn, salt);
        Assert.Equal(SegmentHeader.MagicValue, BinaryPrimitives.ReadUInt64LittleEndian(opening));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(opening.AsSpan(8)));
        Assert.Equal(Number, BinaryPrimitives.ReadUInt64LittleEndian(opening.AsSpan(16)));
        Assert.Equal(FirstLsn, BinaryPrimitives.ReadUInt64LittleEndian(opening.AsSpan(24)));
        Assert.Equal(LogId, BinaryPrimitives.ReadUInt64LittleEndian(opening.AsSpan(32)));
        Assert.Equal(1ul << 20, BinaryPrimitives.ReadUInt64LittleEndian(opening.AsSpan(40)));
        Assert.Equal(4096u + 24, BinaryPrimitives.ReadUInt32LittleEndian(opening.AsSpan(48)));
        Assert.Equal(Crc32C.Compute(opening.AsSpan(0, 60)), BinaryPrimitives.ReadUInt32LittleEndian(opening.AsSpan(60)));

        // The end marker: tag with no frame bytes, the CRC over [0, 4) and [8, 24) XOR the salt, the next LSN, no records,
        // no flags (open: the log ends in this segment); closed, flag bit 0.
        ReadOnlySpan<byte> marker = opening.AsSpan(SegmentHeader.Size, BatchHeader.Size);
        Assert.Equal(BatchHeader.TagBit, BinaryPrimitives.ReadUInt32LittleEndian(marker));
        byte[] covered = [.. marker[..4], .. marker[8..]];
        Assert.Equal(Crc32C.Compute(covered) ^ salt, BinaryPrimitives.ReadUInt32LittleEndian(marker[4..]));
        Assert.Equal(FirstLsn, BinaryPrimitives.ReadUInt64LittleEndian(marker[8..]));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(marker[16..]));
        Assert.True(BatchHeader.TryRead(marker, salt, out BatchHeader read) && read.IsEndMarker);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(marker[20..]));
        Assert.False(BatchHeader.TryRead(marker, SegmentSalt.Of(LogId, Number + 1), out _), "Another segment's salt does not verify it.");
        byte[] closed = new byte[BatchHeader.Size];
        BatchHeader.WriteEndMarker(closed, FirstLsn, salt, closed: true);
        Assert.Equal(BatchHeader.ClosedFlag, BinaryPrimitives.ReadUInt32LittleEndian(closed.AsSpan(20)));
        Assert.True(BatchHeader.TryRead(closed, salt, out BatchHeader closedRead) && closedRead.IsClosed);

        // A frame on disk: the ring's CRC XOR the salt.
        byte[] frame = new byte[FrameHeader.FrameSize(5)];
        fixed (byte* f = frame)
        {
            frame.AsSpan(16, 5).Fill(0x5A);
            FrameHeader.Seal(f, 5, 9);
            uint ringCrc = ((FrameHeader*)f)->Crc;
            ((FrameHeader*)f)->Crc ^= salt;
            Assert.True(FrameHeader.IsIntactOnDisk(f, frame.Length, salt));
            Assert.Equal(ringCrc ^ salt, BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(4)));
        }
    }

    [Fact]
    public unsafe void Producer_and_consumer_words_are_at_least_128_bytes_apart()
    {
        RingControl control = default;
        byte* start = (byte*)&control;
        long tail = (byte*)&control.Producer.Tail - start;
        long cached = (byte*)&control.Producer.CachedHead - start;
        long head = (byte*)&control.Consumer.Head - start;
        long lastConsumerWord = (byte*)&control.Consumer.ReleasedBytes - start + sizeof(long);
        Assert.True(head - (Math.Max(tail, cached) + sizeof(long)) >= CacheLine.FalseSharingRange, "Head is at least 128 bytes from every producer word.");
        Assert.True(sizeof(RingControl) - lastConsumerWord >= CacheLine.FalseSharingRange, "The record area, written by producers, starts at least 128 bytes after the last consumer word.");
        Assert.Equal(0, sizeof(RingControl) % CacheLine.FalseSharingRange);
    }

    [Fact]
    public unsafe void Ring_slab_places_the_control_block_at_offset_zero_and_records_after_it()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(0, (long)ring.Control % Environment.SystemPageSize);
        Assert.Equal(RingStatus.Success, ring.TryReserve(3, out RingReservation reservation));
        Assert.Equal(sizeof(RingControl) + RingRecordHeader.Size, (long)(reservation.Body - (byte*)ring.Control));
        var header = (RingRecordHeader*)((byte*)ring.Control + sizeof(RingControl));
        Assert.True(header->State == 0 && header->ClaimedSize == 16, "Reserved: not published, and the claim's size (8 + 3 rounded up to 8) is stored at offset 4.");
        ring.Publish(reservation);
        Assert.Equal(RingRecordHeader.Published | 3u, header->State);
    }
}
