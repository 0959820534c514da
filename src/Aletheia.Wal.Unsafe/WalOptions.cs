using System.Numerics;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal;

/// <summary>How <see cref="WriteAheadLog.Open(WalOptions)"/> opens a log. Every option is checked at open; a bad value throws an
/// <see cref="ArgumentOutOfRangeException"/> naming the option and its allowed range.</summary>
public sealed class WalOptions
{
    /// <summary>The smallest <see cref="StripeCapacityBytes"/>.</summary>
    public const int MinStripeCapacityBytes = 4096;

    /// <summary>The largest <see cref="StripeCapacityBytes"/>.</summary>
    public const int MaxStripeCapacityBytes = 1 << 30;

    /// <summary>The largest <see cref="StripeCount"/>.</summary>
    public const int MaxStripeCount = 1024;

    /// <summary>The smallest <see cref="SegmentSizeBytes"/>.</summary>
    public const long MinSegmentSizeBytes = 64 * 1024;

    /// <summary>The largest <see cref="SegmentSizeBytes"/>.</summary>
    public const long MaxSegmentSizeBytes = 1L << 40;

    /// <summary>The log directory: created if missing; holds the segments and the writer's lock file.</summary>
    public required string Directory { get; init; }

    /// <summary>Stripes appending threads spread over. Default: the processor count rounded up to a power of two. 1 to 1024.</summary>
    public int StripeCount { get; init; } = (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount);

    /// <summary>Ring bytes per stripe, rounded up to a power of two. Default 1 MiB; 4 KiB to 1 GiB.</summary>
    public int StripeCapacityBytes { get; init; } = 1 << 20;

    /// <summary>Size of each segment file. Default 64 MiB; 64 KiB to 1 TiB, and room for the largest record.</summary>
    public long SegmentSizeBytes { get; init; } = 64L << 20;

    /// <summary>The largest payload. Default 64 KiB; at least 1, and its frame must fit in half a stripe (room to spare).</summary>
    public int MaxEntryBytes { get; init; } = 64 * 1024;

    /// <summary>What recovery at open does with a damaged log. Default <see cref="WalRecoveryMode.TruncateTornTail"/>.</summary>
    public WalRecoveryMode RecoveryMode { get; init; } = WalRecoveryMode.TruncateTornTail;

    /// <summary>
    /// Segments freed by <see cref="WriteAheadLog.TruncateBefore"/> kept for reuse as future segments (no zero-fill, no
    /// metadata change on write). Default 4; 0 to 64.
    /// </summary>
    public int MaxRecycledSegments { get; init; } = 4;

    /// <summary>The flush thread's write buffer: the largest single write. Default 1 MiB; at least room for the largest record.</summary>
    public int WriteBufferBytes { get; init; } = 1 << 20;

    internal int EffectiveStripeCapacity => (int)BitOperations.RoundUpToPowerOf2((uint)StripeCapacityBytes);

    internal int MaxFrameBytes => FrameHeader.FrameSize(MaxEntryBytes);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("WalOptions.Directory must name a directory; it is empty.", nameof(Directory));
        }

        Check(StripeCount >= 1 && StripeCount <= MaxStripeCount, nameof(StripeCount), StripeCount, $"from 1 to {MaxStripeCount}");
        Check(StripeCapacityBytes >= MinStripeCapacityBytes && StripeCapacityBytes <= MaxStripeCapacityBytes, nameof(StripeCapacityBytes), StripeCapacityBytes,
            $"from {MinStripeCapacityBytes} to {MaxStripeCapacityBytes} bytes");
        int ringRecord = RingRecordHeader.RecordSize(MaxFrameBytes);
        Check(MaxEntryBytes >= 1 && (long)ringRecord * 2 <= EffectiveStripeCapacity, nameof(MaxEntryBytes), MaxEntryBytes,
            $"from 1 to {(EffectiveStripeCapacity / 2) - RingRecordHeader.Size - FrameHeader.Size} bytes for a {EffectiveStripeCapacity}-byte stripe (a record must fit in half a stripe)");
        Check(SegmentSizeBytes >= MinSegmentSizeBytes && SegmentSizeBytes <= MaxSegmentSizeBytes && SegmentSizeBytes >= FlushCoordinator.MaxHeaderBytes + MaxFrameBytes,
            nameof(SegmentSizeBytes), SegmentSizeBytes, $"from {Math.Max(MinSegmentSizeBytes, FlushCoordinator.MaxHeaderBytes + MaxFrameBytes)} to {MaxSegmentSizeBytes} bytes");
        Check(WriteBufferBytes >= FlushCoordinator.MaxHeaderBytes + MaxFrameBytes && WriteBufferBytes <= BatchHeader.MaxBytes, nameof(WriteBufferBytes), WriteBufferBytes,
            $"from {FlushCoordinator.MaxHeaderBytes + MaxFrameBytes} bytes (headers and the largest record) to {BatchHeader.MaxBytes}");
        Check(Enum.IsDefined(RecoveryMode), nameof(RecoveryMode), RecoveryMode, "TruncateTornTail, PointInTime or Strict");
        Check(MaxRecycledSegments is >= 0 and <= 64, nameof(MaxRecycledSegments), MaxRecycledSegments, "from 0 to 64");
    }

    private static void Check(bool ok, string option, object value, string allowed)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(option, value, $"WalOptions.{option} must be {allowed}; it is {value}.");
        }
    }
}
