using System.Numerics;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal;

/// <summary>
/// How <see cref="WriteAheadLog.Open(WalOptions)"/> opens a log. Every option is checked at open, before anything is
/// created; bad values throw one <see cref="ArgumentException"/> whose message has a line for each, naming the option, its
/// value and its allowed range (see <see cref="WriteAheadLog.Open(WalOptions)"/>).
/// </summary>
public sealed class WalOptions
{
    /// <summary>The smallest <see cref="StripeCapacityBytes"/>.</summary>
    public const int MinStripeCapacityBytes = 4096;

    /// <summary>The largest <see cref="StripeCapacityBytes"/>.</summary>
    public const int MaxStripeCapacityBytes = 1 << 30;

    /// <summary>The largest <see cref="StripeCount"/>.</summary>
    public const int MaxStripeCount = 1024;

    /// <summary>
    /// The smallest <see cref="SegmentSizeBytes"/> with the default <see cref="MaxEntryBytes"/> (64 KiB): 65,664 bytes, a
    /// segment's headers (112 bytes) and a record of 64 KiB in its frame (65,552 bytes). A smaller
    /// <see cref="MaxEntryBytes"/> allows segments down to 64 KiB; a larger one needs larger segments.
    /// </summary>
    public const long MinSegmentSizeBytes = FlushCoordinator.MaxHeaderBytes + FrameHeader.Size + DefaultMaxEntryBytes;

    /// <summary>
    /// The largest <see cref="WriteBufferBytes"/>: 1 GiB. The log holds two write buffers, and a write is its buffer, the
    /// end marker and up to a page of padding, which must stay within a 32-bit length (found by review: a buffer near
    /// int.MaxValue overflowed that sum).
    /// </summary>
    public const int MaxWriteBufferBytes = 1 << 30;

    /// <summary>The largest <see cref="SegmentSizeBytes"/>.</summary>
    public const long MaxSegmentSizeBytes = 1L << 40;

    private const int DefaultMaxEntryBytes = 64 * 1024;

    // No segment is smaller, whatever MaxEntryBytes allows: a segment of a few records would rotate at every batch.
    private const long SegmentFloorBytes = 64 * 1024;

    /// <summary>The longest <see cref="Name"/>, in characters.</summary>
    public const int MaxNameLength = 128;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode PermissionBits = (UnixFileMode)0x1FF; // 0777: no setuid, setgid or sticky bit

    /// <summary>
    /// The log directory: created if missing (see <see cref="UnixCreateMode"/>); holds the segments, <c>wal.head</c> and
    /// the writer's lock file <c>wal.lock</c>. A directory that holds other files but no log is refused unless
    /// <see cref="AllowForeignFiles"/> is set.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>Stripes appending threads spread over. Default: the processor count rounded up to a power of two. 1 to 1024.</summary>
    public int StripeCount { get; init; } = (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount);

    /// <summary>Ring bytes per stripe, rounded up to a power of two. Default 1 MiB; 4 KiB to 1 GiB.</summary>
    public int StripeCapacityBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Size of each segment file. Default 64 MiB; at most 1 TiB, at least 64 KiB and room for a segment's headers and the
    /// largest record (112 bytes, a 16-byte frame header and <see cref="MaxEntryBytes"/> rounded up to 8):
    /// <see cref="MinSegmentSizeBytes"/> with the default <see cref="MaxEntryBytes"/>.
    /// </summary>
    public long SegmentSizeBytes { get; init; } = 64L << 20;

    /// <summary>The largest payload. Default 64 KiB; at least 1, and its frame must fit in half a stripe (room to spare).</summary>
    public int MaxEntryBytes { get; init; } = DefaultMaxEntryBytes;

    /// <summary>What recovery at open does with a damaged log. Default <see cref="WalRecoveryMode.TruncateTornTail"/>.</summary>
    public WalRecoveryMode RecoveryMode { get; init; } = WalRecoveryMode.TruncateTornTail;

    /// <summary>
    /// During a burst (the writer thread wrote at least half of the segment being closed), reserve the segments prepared
    /// next (Linux: <c>posix_fallocate</c>) instead of zero-filling them, so that their zeros do not compete with the
    /// burst's own writes for the disk; one left reserved is zero-filled once the log idles for 100 ms. Default false.
    /// </summary>
    /// <remarks>
    /// For bulk loads into a new log: measured here, 1 KiB bursts into a fresh log about 8% faster in the compare harness
    /// (up to 25% in a probe), 64 B bursts about 18%. The price: until that fill, small durable appends into a reserved
    /// segment (the one a burst ended in, and the next) convert its extents as they go, measured 30 to 35% fewer
    /// durable appends per second at 1 thread right after a burst. A full disk still fails the preparation, never a
    /// write of records. perf/RESULTS.md has the measurements.
    /// </remarks>
    public bool ReserveSegmentsDuringBursts { get; init; }

    /// <summary>
    /// Segments freed by <see cref="WriteAheadLog.TruncateBefore"/> kept for reuse as future segments (no zero-fill, no
    /// metadata change on write). Default 4; 0 to 64.
    /// </summary>
    public int MaxRecycledSegments { get; init; } = 4;

    /// <summary>The flush thread's write buffer: the largest single write. Default 1 MiB; at least room for the largest record.</summary>
    public int WriteBufferBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Whether a new log may be created in a directory that holds other files. Default false: a <see cref="Directory"/>
    /// that holds files but no log (no <c>wal.head</c> and no segment file <c>{number:D20}.wal</c>) is refused with a
    /// <see cref="WalException"/> naming it and the files found, so that a mistyped path does not put a log among an
    /// application's files. A missing or empty directory, or one holding only the log's own files (left by a creation
    /// that stopped short), is a new log whatever this says; a directory that holds a log opens whatever else it holds.
    /// Subdirectories are not counted. In a log directory the log takes these names as its own: <c>wal.lock</c>,
    /// <c>wal.head</c>, <c>*.wal</c>, <c>*.wal.tmp</c> and <c>*.recycle</c> (recovery deletes leftover <c>*.wal.tmp</c>
    /// files and recycled files it does not keep); keep other files there under other names.
    /// </summary>
    public bool AllowForeignFiles { get; init; }

    /// <summary>
    /// Who may read and write the files the log creates (segments, <c>wal.head</c>, <c>wal.lock</c>): each is created with
    /// exactly this mode, whatever the process's umask (it is created with the mode, which the umask can only narrow, and
    /// then set to it). The log directory, when the log creates it, gets this mode plus search (execute) permission for
    /// each class that may read: 0600 gives 0700, 0640 gives 0750. Parent directories the log creates get the process's
    /// default mode. An existing directory keeps its mode, and an existing file its own (a recycled segment keeps the
    /// mode it was created with). Default 0600 (<see cref="UnixFileMode.UserRead"/> | <see cref="UnixFileMode.UserWrite"/>):
    /// only the owner reads the log, as etcd and PostgreSQL do. From 0600 to 0777 octal: the owner must read and write,
    /// and only the nine permission bits may be set. Ignored on Windows (where it is still checked).
    /// </summary>
    public UnixFileMode UnixCreateMode { get; init; } = OwnerReadWrite;

    /// <summary>
    /// How segment writes are made durable on return: <see cref="WalWriteMode.WriteThrough"/> (the default, .NET's
    /// write-through handle) or, on Linux, <see cref="WalWriteMode.DataSync"/> (<c>O_DSYNC</c>: the same durability of the
    /// data the log reads back, without a journal commit for the file's timestamps).
    /// </summary>
    public WalWriteMode WriteMode { get; init; } = WalWriteMode.WriteThrough;

    /// <summary>
    /// A name for the log in its metrics: the tag <c>wal.name</c> of every instrument of the meter
    /// <see cref="WalDiagnostics.MeterName"/>, beside <c>wal.directory</c> (the full directory path), so that dashboards
    /// tell several logs of one process apart by a stable name rather than by path. Default null: no <c>wal.name</c> tag.
    /// When set, 1 to <see cref="MaxNameLength"/> characters, none of them a control character.
    /// </summary>
    public string? Name { get; init; }

    internal int EffectiveStripeCapacity => (int)BitOperations.RoundUpToPowerOf2((uint)StripeCapacityBytes);

    internal int MaxFrameBytes => FrameHeader.FrameSize(MaxEntryBytes);

    /// <summary>
    /// Checks every option and reports every bad one at once, as <see cref="WriteAheadLog.Open(WalOptions)"/> does before it touches
    /// anything: for configuration read from a file, checked before it is used.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// One line per bad option; <see cref="ArgumentException.ParamName"/> is the option when only one is bad, else null.
    /// </exception>
    public void Validate()
    {
        var problems = new List<(string Option, string Line)>();
        void Check(bool ok, string option, object value, string allowed)
        {
            if (!ok)
            {
                problems.Add((option, $"WalOptions.{option} must be {allowed}; it is {value}."));
            }
        }

        if (string.IsNullOrWhiteSpace(Directory))
        {
            problems.Add((nameof(Directory), "WalOptions.Directory must name a directory; it is empty."));
        }

        Check(StripeCount >= 1 && StripeCount <= MaxStripeCount, nameof(StripeCount), StripeCount, $"from 1 to {MaxStripeCount}");
        bool stripeOk = StripeCapacityBytes >= MinStripeCapacityBytes && StripeCapacityBytes <= MaxStripeCapacityBytes;
        Check(stripeOk, nameof(StripeCapacityBytes), StripeCapacityBytes, $"from {MinStripeCapacityBytes} to {MaxStripeCapacityBytes} bytes");

        // The bound MaxEntryBytes takes from the stripes is checked only against a valid stripe size: one derived from a
        // bad size would report the same mistake twice, and mislead.
        if (stripeOk)
        {
            int stripe = EffectiveStripeCapacity;
            int largest = (stripe / 2) - RingRecordHeader.Size - FrameHeader.Size;
            Check(MaxEntryBytes >= 1 && (long)RingRecordHeader.RecordSize(MaxFrameBytes) * 2 <= stripe, nameof(MaxEntryBytes), MaxEntryBytes,
                $"from 1 to {largest} bytes with WalOptions.StripeCapacityBytes {StripeCapacityBytes} (a record must fit in half a stripe of {stripe} bytes)");
        }
        else
        {
            Check(MaxEntryBytes >= 1, nameof(MaxEntryBytes), MaxEntryBytes, "at least 1 byte");
        }

        // In long: a MaxEntryBytes near int.MaxValue overflows an int frame size. Checked against any MaxEntryBytes of at
        // least 1, also one too large for the stripes: the segment and the write buffer must hold it all the same.
        long largestWrite = MaxEntryBytes >= 1 ? FlushCoordinator.MaxHeaderBytes + FrameHeader.Size + (((long)MaxEntryBytes + 7) & ~7L) : 0;
        long minSegment = Math.Max(SegmentFloorBytes, largestWrite);
        Check(SegmentSizeBytes >= minSegment && SegmentSizeBytes <= MaxSegmentSizeBytes, nameof(SegmentSizeBytes), SegmentSizeBytes,
            largestWrite > SegmentFloorBytes
                ? $"from {minSegment} to {MaxSegmentSizeBytes} bytes with WalOptions.MaxEntryBytes {MaxEntryBytes} (a segment holds its headers and the largest record)"
                : $"from {SegmentFloorBytes} to {MaxSegmentSizeBytes} bytes");
        Check(WriteBufferBytes >= largestWrite && WriteBufferBytes <= MaxWriteBufferBytes, nameof(WriteBufferBytes), WriteBufferBytes,
            MaxEntryBytes >= 1
                ? $"from {largestWrite} to {MaxWriteBufferBytes} bytes with WalOptions.MaxEntryBytes {MaxEntryBytes} (a write holds its headers and the largest record)"
                : $"at most {MaxWriteBufferBytes} bytes, and room for the headers and the largest record");
        Check(Enum.IsDefined(RecoveryMode), nameof(RecoveryMode), RecoveryMode, "TruncateTornTail, PointInTime or Strict");
        Check(Enum.IsDefined(WriteMode), nameof(WriteMode), WriteMode, "WriteThrough or DataSync");
        Check(MaxRecycledSegments is >= 0 and <= 64, nameof(MaxRecycledSegments), MaxRecycledSegments, "from 0 to 64");
        Check((UnixCreateMode & OwnerReadWrite) == OwnerReadWrite && (UnixCreateMode & ~PermissionBits) == 0, nameof(UnixCreateMode),
            Octal(UnixCreateMode), "from 0600 to 0777 octal (the owner reads and writes; only the nine permission bits)");

        if (Name is not null && NameProblem(Name) is { } nameProblem)
        {
            problems.Add((nameof(Name), $"WalOptions.Name must be null or 1 to {MaxNameLength} characters, none of them a control character; {nameProblem}."));
        }

        if (problems.Count == 1)
        {
            throw new ArgumentException(problems[0].Line, problems[0].Option);
        }

        if (problems.Count > 1)
        {
            throw new ArgumentException($"{problems.Count} options are invalid:{Environment.NewLine}{string.Join(Environment.NewLine, problems.Select(p => p.Line))}");
        }
    }

    private static string? NameProblem(string name)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Length > MaxNameLength)
        {
            return $"it has {name.Length} characters";
        }

        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsControl(name[i]))
            {
                return $"it has the control character U+{(int)name[i]:X4} at index {i}";
            }
        }

        return null;
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8);
}
