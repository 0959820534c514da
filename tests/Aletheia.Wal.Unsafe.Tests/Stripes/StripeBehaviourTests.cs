using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Stripes;
using Xunit;

namespace Aletheia.Wal.Tests.Stripes;

public sealed unsafe class StripeBehaviourTests
{
    [Fact]
    public void Stripe_frames_records_with_a_valid_crc()
    {
        using var stripe = new Stripe(0, 4096);
        Assert.Equal(RingStatus.Success, stripe.TryAppend([1, 2, 3, 4, 5], new LsnSequence(41), out Lsn lsn));
        Assert.Equal(new Lsn(42), lsn);
        Assert.True(stripe.Ring.TryRead(stripe.Ring.Head, out RingRecord record));
        Assert.Equal(FrameHeader.FrameSize(5), record.Length);
        var header = (FrameHeader*)record.Body;
        Assert.Equal(5u, header->PayloadLength);
        Assert.Equal(42ul, header->Lsn);
        Assert.Equal(FrameHeader.ComputeCrc(record.Body, record.Length), header->Crc);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 0, 0, 0 }, record.Span[16..].ToArray()); // zero padding
    }

    [Fact]
    public void Stripe_in_place_writer_that_throws_abandons_without_taking_an_lsn()
    {
        using var stripe = new Stripe(0, 4096);
        var lsns = new LsnSequence();
        Assert.Throws<InvalidOperationException>(() => stripe.AppendBlocking(
            8, 0, static (span, _) => throw new InvalidOperationException("serializer failed"), lsns, out _, 10_000));
        Assert.Equal(Lsn.None, lsns.Last);
        Assert.Equal(RingStatus.Success, stripe.AppendBlocking(3, (byte)7, static (span, b) => span.Fill(b), lsns, out Lsn lsn, 10_000));
        Assert.Equal(new Lsn(1), lsn);
        var sink = new StripeSeedTests.FrameCollector();
        Assert.Equal(1, stripe.Drain(ref sink));
        Assert.Equal([7, 7, 7], sink.Frames.Single().Payload);
    }

    [Fact]
    public void Stripe_refuses_a_payload_too_large_with_both_sizes()
    {
        using var stripe = new Stripe(3, 128);
        var e = Assert.Throws<ArgumentException>(() => stripe.TryAppend(new byte[200], new LsnSequence(), out _));
        Assert.Contains("200", e.Message, StringComparison.Ordinal);
        Assert.Contains(stripe.MaxPayloadLength.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stripe_after_dispose_throws_object_disposed()
    {
        var stripe = new Stripe(0, 4096);
        stripe.Dispose();
        stripe.Dispose();
        Assert.Throws<ObjectDisposedException>(() => stripe.TryAppend([1], new LsnSequence(), out _));
    }
}
