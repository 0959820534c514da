namespace Aletheia.Wal.Ring;

/// <summary>
/// Told by a ring when its consumer should run a drain round although no new record may have been published:
/// a producer is about to park for space, or a reservation was abandoned.
/// </summary>
internal interface IRingConsumerSignal
{
    /// <summary>Called on a producer's thread; must not block and must not throw.</summary>
    void RequestDrain();
}
