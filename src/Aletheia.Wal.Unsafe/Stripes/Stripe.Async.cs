using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Ring;

namespace Aletheia.Wal.Stripes;

// The async append. A part of its own because it is not an unsafe context, unlike the rest of the stripe: C# allows no
// await in one.
internal sealed partial class Stripe
{
    /// <summary>
    /// Appends, waiting for space without blocking a thread. When the stripe has room the append happens before this
    /// returns and the result is complete (nothing allocated); on a full stripe the caller gets a pending task, the
    /// appender retries each time the consumer releases space, and <paramref name="cancellationToken"/> is honoured
    /// until the record is appended: a cancelled call appends nothing and takes no LSN.
    /// </summary>
    /// <returns>Success with the LSN and the resets made before it was taken (<see cref="LsnSequence.ResetsAtLastTake"/>,
    /// read on the thread that took it), or <see cref="RingStatus.Closed"/> (nothing appended); never Full.</returns>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for space (the task ends cancelled).</exception>
    /// <exception cref="ObjectDisposedException">The stripe is disposed (thrown at once, or through the task).</exception>
    public ValueTask<(RingStatus Status, Lsn Lsn, int Epoch)> AppendAsync(ReadOnlyMemory<byte> payload, LsnSequence lsns, CancellationToken cancellationToken)
    {
        RingStatus status = TryAppend(payload.Span, lsns, out Lsn lsn);
        return status == RingStatus.Full ? AppendWhenSpaceAsync(payload, lsns, cancellationToken) : new((status, lsn, LsnSequence.ResetsAtLastTake));
    }

    private async ValueTask<(RingStatus Status, Lsn Lsn, int Epoch)> AppendWhenSpaceAsync(ReadOnlyMemory<byte> payload, LsnSequence lsns, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Before every try, never after a success: cancellation ends the wait for space, not an append that happened.
            cancellationToken.ThrowIfCancellationRequested();

            // The ring's space-wait protocol: announce, try again, and only then wait. A release between our last try and
            // the announcement is seen by the try; one after it completes the task we hold. No slab access in between,
            // so no dispose guard is held across the await (TryAppend takes it for its own duration).
            Task spaceFreed = _ring.BeginSpaceWait();
            try
            {
                ProtocolDelays.Step(); // announced, not yet tried again: the consumer releases meanwhile
                RingStatus status = TryAppend(payload.Span, lsns, out Lsn lsn, retry: true); // counted in FullWaits by AppendAsync's try
                if (status != RingStatus.Full)
                {
                    return (status, lsn, LsnSequence.ResetsAtLastTake); // read on the thread that took the LSN, before any await
                }

                await ByteRing.WaitForSpaceAsync(spaceFreed, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _ring.EndSpaceWait();
            }
        }
    }
}
