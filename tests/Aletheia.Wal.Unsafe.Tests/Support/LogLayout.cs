using System.Buffers.Binary;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What a byte range of a segment is, in the write that put it there.</summary>
public enum UnitKind
{
    /// <summary>A segment's opening write: its 64-byte header (its end marker at 64 is overwritten by the first batch).</summary>
    Opening,

    /// <summary>One batch write: its batch header and frames (its end marker is overwritten by the next write).</summary>
    Batch,

    /// <summary>
    /// The end marker of the last write into a segment: it proves where the segment's data ends, and (closed, in every
    /// segment but the last) that the log goes on in the next.
    /// </summary>
    EndMarker,
}

/// <summary>
/// One unit of a pristine log: the bytes one write left that no later write overwrote, in log order. A unit's records are
/// LSNs [<see cref="FirstLsn"/>, <see cref="FirstLsn"/> + <see cref="Records"/>); for an opening write or end marker,
/// <see cref="FirstLsn"/> is the LSN the log continues with there.
/// </summary>
public sealed record LayoutUnit(UnitKind Kind, string Path, ulong Segment, long Start, long End, ulong FirstLsn, int Records)
{
    public ulong LastLsn => FirstLsn + (ulong)Records - 1;

    public override string ToString() => $"{Kind} of segment {Segment} [{Start}, {End}) LSN {FirstLsn}+{Records}";
}

/// <summary>One segment file of a pristine log.</summary>
public sealed record LayoutSegment(string Path, ulong Number, bool Used, long Length, ulong FirstLsn, uint MaxWriteBytes, long DataEnd);

/// <summary>
/// The structure of an undamaged log, read straight from the bytes with the format's field offsets (native-layout.md),
/// without the library's reader: the tests' independent view of where every write and record lies. It trusts the bytes
/// (it checks no CRC), so it is only for logs known to be intact.
/// </summary>
public sealed class LogLayout
{
    private LogLayout(ulong logId, List<LayoutSegment> segments, List<LayoutUnit> units)
    {
        LogId = logId;
        Segments = segments;
        Units = units;
    }

    public ulong LogId { get; }

    /// <summary>Every segment file, in number order.</summary>
    public List<LayoutSegment> Segments { get; }

    /// <summary>The units of the used segments in log order. Unused segments hold none: the last end marker is open, so nothing after it is read.</summary>
    public List<LayoutUnit> Units { get; }

    public IEnumerable<LayoutSegment> Used => Segments.Where(s => s.Used);

    public ulong FirstLsn => Used.First().FirstLsn;

    public ulong LastLsn => Units.Where(u => u.Kind == UnitKind.Batch).Select(u => u.LastLsn).DefaultIfEmpty(FirstLsn - 1).Max();

    /// <summary>Where the log ends: the offset of the last used segment's end marker.</summary>
    public long EndOfLog => Used.Last().DataEnd;

    public static LogLayout Read(string directory)
    {
        byte[] head = File.ReadAllBytes(Path.Combine(directory, LogHeadFile.FileName));
        ulong logId = BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(24));
        var segments = new List<LayoutSegment>();
        var units = new List<LayoutUnit>();
        foreach (string path in Directory.GetFiles(directory, "*" + SegmentNames.Extension).Order(StringComparer.Ordinal))
        {
            byte[] bytes = SegmentFiles.ReadShared(path);
            ulong number = ulong.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture);
            if (bytes.Length < SegmentHeader.Size || !bytes.AsSpan(0, SegmentHeader.Size).ContainsAnyExcept((byte)0))
            {
                segments.Add(new LayoutSegment(path, number, false, bytes.Length, 0, 0, 0));
                continue;
            }

            ulong firstLsn = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24));
            uint maxWrite = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(48));
            units.Add(new LayoutUnit(UnitKind.Opening, path, number, 0, SegmentHeader.Size, firstLsn, 0));
            long offset = SegmentHeader.Size;
            ulong next = firstLsn;
            while (true)
            {
                uint tag = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset));
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset + 16));
                if (count == 0)
                {
                    units.Add(new LayoutUnit(UnitKind.EndMarker, path, number, offset, offset + BatchHeader.Size, next, 0));
                    break;
                }

                long end = offset + BatchHeader.Size + (tag & ~BatchHeader.TagBit);
                units.Add(new LayoutUnit(UnitKind.Batch, path, number, offset, end, next, (int)count));
                next += count;
                offset = end;
            }

            segments.Add(new LayoutSegment(path, number, true, bytes.Length, firstLsn, maxWrite, offset));
        }

        return new LogLayout(logId, segments, units);
    }

    /// <summary>The unit holding record <paramref name="lsn"/>.</summary>
    public LayoutUnit BatchOf(ulong lsn) => Units.Single(u => u.Kind == UnitKind.Batch && u.FirstLsn <= lsn && lsn <= u.LastLsn);

    /// <summary>Where record <paramref name="lsn"/>'s frame starts in its segment.</summary>
    public long FrameOffset(ulong lsn)
    {
        LayoutUnit batch = BatchOf(lsn);
        byte[] bytes = SegmentFiles.ReadShared(batch.Path);
        long offset = batch.Start + BatchHeader.Size;
        for (ulong at = batch.FirstLsn; at < lsn; at++)
        {
            offset += FrameHeader.FrameSize((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset)));
        }

        return offset;
    }
}
