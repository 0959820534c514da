namespace Aletheia.Wal.Stripes;

/// <summary>Receives drained frames from <see cref="Stripe.Drain{THandler}"/>; a struct, so nothing is allocated.</summary>
internal interface IFrameHandler
{
    /// <summary>One record, in place in the ring: the span is valid only during the call.</summary>
    void OnFrame(Lsn lsn, ReadOnlySpan<byte> payload);
}
