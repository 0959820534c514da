namespace Aletheia.Wal;

/// <summary>A snapshot of one stripe's figures.</summary>
/// <param name="Id">The stripe's index, 0-based.</param>
/// <param name="TotalAppends">Records appended successfully since the log was opened.</param>
/// <param name="TotalBytes">Payload bytes of those records.</param>
/// <param name="PendingCount">Records published in the stripe and not yet taken by the flush thread (approximate while running).</param>
public readonly record struct StripeMetrics(int Id, long TotalAppends, long TotalBytes, int PendingCount);
