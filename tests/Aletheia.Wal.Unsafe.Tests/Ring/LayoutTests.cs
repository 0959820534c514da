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
