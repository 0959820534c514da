using System.Buffers.Binary;

namespace Aletheia.Wal.Storage;

/// <summary>
/// What <c>wal.head</c> says: the log's id and its head, the oldest segment kept and its first LSN. Segments numbered
/// below <see cref="Segment"/> are leftovers of a truncation (removed at open, whatever their state); no LSN below
/// <see cref="FirstLsn"/> is ever handed out again. <see cref="CutFrom"/> and <see cref="CutTo"/> record the last cut
/// recovery made (0 for none), written before the cut destroys anything, so that a recovery interrupted by a crash
/// still reports it when the log is next opened; forgotten once the log holds <see cref="CutFrom"/> again.
/// <see cref="HeadOpened"/> says the head segment's opening write was made: from then on a missing or zero head segment is
/// damage, not a log whose creation (or emptying) stopped before its first write.
/// <see cref="RewindCount"/> counts the <c>TruncateAfter</c> calls that dropped records on disk, the last of which kept
/// the records up to <see cref="RewindLsn"/>. While one is being made, <see cref="RewindSegment"/> is not 0: it and
/// <see cref="RewindOffset"/>, <see cref="RewindBatchLsn"/> and <see cref="RewindZeroTo"/> say how the cut ends the log
/// (see <c>TailRewind</c>), so that recovery completes it after a crash.
/// </summary>
internal readonly record struct LogHead(
    ulong LogId,
    ulong Segment,
    ulong FirstLsn,
    ulong Sequence,
    ulong CutFrom = 0,
    ulong CutTo = 0,
    bool HeadOpened = false,
    long RewindCount = 0,
    ulong RewindLsn = 0,
    ulong RewindSegment = 0,
    long RewindOffset = 0,
    ulong RewindBatchLsn = 0,
    long RewindZeroTo = 0)
{
    /// <summary>A <c>TruncateAfter</c> is being made (recorded, not yet completed).</summary>
    public bool RewindPending => RewindSegment != 0;
}

/// <summary>
/// The file <c>wal.head</c>: two identical 128-byte copies of the <see cref="LogHead"/>, at offsets 0 and 4096 (separate
/// 4 KiB physical sectors), in an 8192-byte file created with the log. An update writes first the copy that does not hold
/// the current head (damaged, or older; copy A when both hold it), then the other, each write-through, with a sequence
/// number never used before: a crash between them leaves both valid (the higher sequence wins), a torn write damages at
/// most the copy it was writing while the other holds the current head, and a damaged sector at most one copy. <c>TruncateBefore</c> updates it before it
/// removes a segment, so that removals may reach the disk in any order: what is left below the head is known to be going.
/// </summary>
/// <remarks>
/// <code>
/// offset   0  Magic          8 bytes  "ALTHHEAD" (0x4441454848544C41 little-endian)
/// offset   8  FormatVersion  4 bytes  2
/// offset  12  Size           4 bytes  128
/// offset  16  Sequence       8 bytes  1 at creation, higher at every update
/// offset  24  LogId          8 bytes  random, non-zero, chosen when the log was created
/// offset  32  HeadSegment    8 bytes  the oldest segment kept
/// offset  40  HeadLsn        8 bytes  its first LSN: the oldest LSN kept, and the floor of every LSN handed out
/// offset  48  CutFrom        8 bytes  the first LSN the last recovery cut dropped (0: none)
/// offset  56  CutTo          8 bytes  the highest LSN it found evidence of among those (0: none)
/// offset  64  HeadOpened     4 bytes  1 once the head segment's opening write was made, else 0
/// offset  68  Reserved       4 bytes  0
/// offset  72  RewindCount    8 bytes  TruncateAfter calls that cut records on disk, since the log was created
/// offset  80  RewindLsn      8 bytes  the LSN the last of them kept the log up to
/// offset  88  RewindSegment  8 bytes  while one is being made: the segment where the log then ends (else 0)
/// offset  96  RewindOffset   8 bytes  ... the offset there of the batch holding RewindLsn + 1
/// offset 104  RewindBatchLsn 8 bytes  ... that batch's first LSN
/// offset 112  RewindZeroTo   8 bytes  ... the end of the bytes to zero after the new end marker
/// offset 120  Reserved       4 bytes  0
/// offset 124  Crc            4 bytes  CRC-32C of bytes [0, 124)
/// </code>
/// </remarks>
internal static class LogHeadFile
{
    public const string FileName = "wal.head";
    public const int CopyBytes = 128;
    public const int FileBytes = 8192;
    public const ulong MagicValue = 0x4441454848544C41; // "ALTHHEAD"

    private const int CrcOffset = CopyBytes - sizeof(uint);

    /// <summary>Where the two copies are: separate 4 KiB sectors (a 512-byte logical sector may share a physical one).</summary>
    public static ReadOnlySpan<int> CopyOffsets => [0, 4096];

    public static string PathOf(string directory) => Path.Combine(directory, FileName);

    /// <summary>Creates <c>wal.head</c> for a new log, durably (file and directory fsynced). Fails if it exists.</summary>
    public static void Create(WalStorage storage, string directory, LogHead head)
    {
        using (WalFile file = storage.CreateNew(PathOf(directory), writeThrough: false))
        {
            Span<byte> bytes = stackalloc byte[FileBytes];
            bytes.Clear();
            foreach (int offset in CopyOffsets)
            {
                Encode(head, bytes.Slice(offset, CopyBytes));
            }

            file.Write(bytes, 0);
            file.Sync();
        }

        storage.SyncDirectory(directory);
    }

    /// <summary>
    /// Writes <paramref name="head"/> durably: first the copy that does not hold the current head, then the other, each
    /// write-through. A new head carries a sequence number higher than any written before, even by a write that failed (it may have reached the disk). Written again as it is
    /// (the same sequence), it seals a head that recovery read through the page cache: after a failed fsync or write,
    /// Linux may hold there what the disk lacks, and the writer must not go on under a head only memory holds.
    /// </summary>
    public static void Write(WalStorage storage, string directory, LogHead head)
    {
        Span<byte> copy = stackalloc byte[CopyBytes];
        Encode(head, copy);
        string path = PathOf(directory);
        using WalFile file = storage.OpenWrite(path, writeThrough: true);
        int first = s_suspectCopies.TryGetValue(path, out int suspect) ? suspect : FirstToWrite(file);
        foreach (int index in (ReadOnlySpan<int>)[first, 1 - first])
        {
            // A copy whose write failed is suspect until it is written again: the page cache may show it whole while the
            // disk has it torn, so reading it back cannot tell. A dry run writes nothing: the real file stays as it was.
            if (storage.IsDryRun)
            {
                file.Write(copy, CopyOffsets[index]);
                continue;
            }

            s_suspectCopies[path] = index;
            file.Write(copy, CopyOffsets[index]);
            s_suspectCopies.TryRemove(path, out _);
        }
    }

    /// <summary>
    /// Copies whose last write failed, by file: written first at the next update (found by review: after an EIO that tore
    /// copy A on disk but left it whole in the page cache, an update read A as the current head and wrote B first, and a
    /// torn write of B then left no copy intact). Process-wide, as the page cache is; a process started after such a failure
    /// (without a reboot) cannot know of it.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> s_suspectCopies = new(StringComparer.Ordinal);

    /// <summary>Whether a copy of <paramref name="path"/> is suspect: its last write in this process failed (tests).</summary>
    internal static bool HasSuspectCopy(string path) => s_suspectCopies.ContainsKey(path);

    /// <summary>
    /// Which copy an update writes first, when none is suspect (above): the one that does not hold the current head (damaged, or of a lower sequence),
    /// so that the copy holding it stays intact until the other is written. Written the other way round, a torn write of
    /// the intact copy after a torn write of the other (two crashes, an update and the recovery's) leaves no copy intact
    /// (found by review). Copy A when both hold the same head.
    /// </summary>
    private static int FirstToWrite(WalFile file)
    {
        (LogHead? a, LogHead? b) = ReadCopies(file);
        return a is null ? 0 : b is null ? 1 : b.Value.Sequence < a.Value.Sequence ? 1 : 0;
    }

    /// <summary>Both copies of the open <c>wal.head</c>, each null when damaged.</summary>
    private static (LogHead? A, LogHead? B) ReadCopies(WalFile file)
    {
        Span<byte> bytes = stackalloc byte[FileBytes];
        bytes.Clear();
        file.Read(bytes, 0);
        return (Decode(bytes.Slice(CopyOffsets[0], CopyBytes), out _), Decode(bytes.Slice(CopyOffsets[1], CopyBytes), out _));
    }

    /// <summary>
    /// The head as <c>wal.head</c> holds it now (the valid copy of the higher sequence), without listing the directory:
    /// null when the file is missing or no copy is intact. For readers that look again while they read.
    /// </summary>
    public static LogHead? ReadCurrent(WalStorage storage, string directory)
    {
        WalFile file;
        try
        {
            file = storage.OpenRead(PathOf(directory));
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        using (file)
        {
            (LogHead? a, LogHead? b) = ReadCopies(file);
            return a is { } x && b is { } y ? (x.Sequence >= y.Sequence ? x : y) : a ?? b;
        }
    }

    /// <summary>Reads both copies.</summary>
    public static LogHeadState Read(WalStorage storage, string directory)
    {
        string path = PathOf(directory);
        if (!storage.ListFiles(directory, FileName).Contains(FileName, StringComparer.Ordinal))
        {
            return new LogHeadState(path, Exists: false, null, null, []);
        }

        using WalFile file = storage.OpenRead(path);
        Span<byte> bytes = stackalloc byte[FileBytes];
        bytes.Clear();
        int read = file.Read(bytes, 0);
        LogHead? first = Decode(bytes.Slice(CopyOffsets[0], CopyBytes), out string? firstProblem);
        LogHead? second = Decode(bytes.Slice(CopyOffsets[1], CopyBytes), out string? secondProblem);
        var damaged = new List<(int Offset, string Reason)>();
        if (first is null)
        {
            damaged.Add((CopyOffsets[0], firstProblem!));
        }

        if (second is null)
        {
            damaged.Add((CopyOffsets[1], secondProblem!));
        }

        LogHead? head = first is { } a && second is { } b ? (a.Sequence >= b.Sequence ? a : b) : first ?? second;
        string? conflict = first is { } x && second is { } y && x.Sequence == y.Sequence && x != y
            ? "its two copies have the same sequence number but differ"
            : null;
        bool blank = read < FileBytes ? !bytes[..read].ContainsAnyExcept((byte)0) : !bytes.ContainsAnyExcept((byte)0);
        return new LogHeadState(path, Exists: true, conflict is null ? head : null, conflict, damaged) { IsBlank = blank && head is null };
    }

    /// <summary>
    /// The head of the log in <paramref name="directory"/>, as recovery and readers use it: null when there is no log yet
    /// (no segment, and no wal.head or none with an intact copy: a creation that did not reach its fsync). A wal.head
    /// missing or unreadable beside segments is refused in every mode (a log of another format version with its own
    /// message); one damaged copy is refused by Strict only, and then <paramref name="damagedCopy"/> is true (recovery
    /// rewrites both).
    /// </summary>
    /// <exception cref="WalCorruptionException">wal.head is missing, blank or unreadable beside segments, or Strict found a damaged copy.</exception>
    /// <exception cref="WalException">The segments are of another format version.</exception>
    public static LogHead? Resolve(WalStorage storage, string directory, WalRecoveryMode mode, IReadOnlyList<ulong> segments, out bool damagedCopy)
    {
        damagedCopy = false;
        LogHeadState state = Read(storage, directory);
        if (segments.Count == 0 && state.Head is null)
        {
            return null;
        }

        if (!state.Exists || state.IsBlank)
        {
            string first = SegmentNames.PathOf(directory, segments[0]);
            if (SegmentHeader.TryReadFile(storage, first, out SegmentHeader header) && header.FormatVersion != SegmentHeader.CurrentFormatVersion)
            {
                throw new WalException(SegmentHeader.UnsupportedVersion(first, header.FormatVersion));
            }

            throw new WalCorruptionException(state.Path, 0, $"{FileName} is {(state.Exists ? "blank" : "missing")}, but the directory holds segments: the log's id and head are unknown");
        }

        if (state.Head is not { } head)
        {
            (int offset, string reason) = state.DamagedCopies.Count > 0 ? state.DamagedCopies[0] : (0, state.Conflict!);
            throw new WalCorruptionException(state.Path, offset, $"no copy of {FileName} is intact ({reason})");
        }

        if (state.DamagedCopies.Count > 0)
        {
            if (mode == WalRecoveryMode.Strict)
            {
                throw new WalCorruptionException(state.Path, state.DamagedCopies[0].Offset, $"one copy of {FileName} is damaged ({state.DamagedCopies[0].Reason}); the other is intact");
            }

            damagedCopy = true;
        }

        return head;
    }

    private static void Encode(LogHead head, Span<byte> copy)
    {
        copy.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(copy, MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(copy[8..], SegmentHeader.CurrentFormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(copy[12..], CopyBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[16..], head.Sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[24..], head.LogId);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[32..], head.Segment);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[40..], head.FirstLsn);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[48..], head.CutFrom);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[56..], head.CutTo);
        BinaryPrimitives.WriteUInt32LittleEndian(copy[64..], head.HeadOpened ? 1u : 0u);
        BinaryPrimitives.WriteInt64LittleEndian(copy[72..], head.RewindCount);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[80..], head.RewindLsn);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[88..], head.RewindSegment);
        BinaryPrimitives.WriteInt64LittleEndian(copy[96..], head.RewindOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(copy[104..], head.RewindBatchLsn);
        BinaryPrimitives.WriteInt64LittleEndian(copy[112..], head.RewindZeroTo);
        BinaryPrimitives.WriteUInt32LittleEndian(copy[CrcOffset..], Crc32C.Compute(copy[..CrcOffset]));
    }

    private static LogHead? Decode(ReadOnlySpan<byte> copy, out string? problem)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(copy[CrcOffset..]) != Crc32C.Compute(copy[..CrcOffset]) || BinaryPrimitives.ReadUInt64LittleEndian(copy) != MagicValue)
        {
            problem = "the copy's CRC-32C or magic does not match";
            return null;
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(copy[8..]);
        if (version != SegmentHeader.CurrentFormatVersion || BinaryPrimitives.ReadUInt32LittleEndian(copy[12..]) != CopyBytes || BinaryPrimitives.ReadUInt32LittleEndian(copy[64..]) > 1
            || copy[68..72].ContainsAnyExcept((byte)0) || copy[120..CrcOffset].ContainsAnyExcept((byte)0))
        {
            problem = $"the copy has format version {version}; this library reads version {SegmentHeader.CurrentFormatVersion}";
            return null;
        }

        var head = new LogHead(
            BinaryPrimitives.ReadUInt64LittleEndian(copy[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[48..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[56..]),
            BinaryPrimitives.ReadUInt32LittleEndian(copy[64..]) == 1,
            BinaryPrimitives.ReadInt64LittleEndian(copy[72..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[80..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[88..]),
            BinaryPrimitives.ReadInt64LittleEndian(copy[96..]),
            BinaryPrimitives.ReadUInt64LittleEndian(copy[104..]),
            BinaryPrimitives.ReadInt64LittleEndian(copy[112..]));
        if (head.LogId == 0 || head.Segment == 0 || head.FirstLsn == 0)
        {
            problem = "the copy names no log, segment or LSN (zero)";
            return null;
        }

        problem = null;
        return head;
    }
}

/// <summary>What <see cref="LogHeadFile.Read"/> found.</summary>
/// <param name="Path">The file's path.</param>
/// <param name="Exists">False when there is no <c>wal.head</c>.</param>
/// <param name="Head">The head to use: the valid copy with the higher sequence; null when no copy is valid, or they conflict.</param>
/// <param name="Conflict">Why two valid copies cannot both be right, if they cannot.</param>
/// <param name="DamagedCopies">The offset of each damaged copy and what is wrong with it.</param>
internal sealed record LogHeadState(string Path, bool Exists, LogHead? Head, string? Conflict, List<(int Offset, string Reason)> DamagedCopies)
{
    /// <summary>The file holds nothing but zeros (or nothing): a creation interrupted before its fsync.</summary>
    public bool IsBlank { get; init; }
}
