using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Recovery;

/// <summary>
/// The on-disk part of <c>TruncateAfter(n)</c> (native-layout.md, section 5): the log is made to end right after LSN n.
/// Let the batch holding LSN n + 1 start at offset X of segment S, with first LSN a. The cut is recorded in
/// <c>wal.head</c> first (S, X, a, n, and how far to zero): that write is the commit point. Then, by <see cref="Complete"/>,
/// which recovery runs again after a crash until <c>wal.head</c> no longer records it:
/// <list type="number">
/// <item>The kept records a..n (their frames are never touched by the cut) are checked, and the batch header at X is
/// rewritten to hold just them, with an open end marker after them; or, when a = n + 1, an open end marker is written at
/// X. Every byte written is a function of the recorded cut and of the kept frames, so writing it again is harmless.</item>
/// <item>The bytes after that marker, to the recorded end, are zeroed: no salted structure of a dropped record stays in
/// S to pass for a later write after the next torn tail.</item>
/// <item>Every segment after S is deleted, and the directory fsynced.</item>
/// </list>
/// Then <c>wal.head</c> is written again without the cut. A crash before the first <c>wal.head</c> write leaves the old
/// log whole (nothing was touched); any crash after it leaves the new one once recovery has completed the cut.
/// </summary>
internal static class TailRewind
{
    /// <summary>
    /// Carries out the cut recorded in <paramref name="head"/> (see the class remarks): on return the log ends right
    /// after <see cref="LogHead.RewindLsn"/>, in segment <see cref="LogHead.RewindSegment"/>, durably.
    /// </summary>
    /// <param name="storage">The file system.</param>
    /// <param name="directory">The log directory.</param>
    /// <param name="head">The head recording the cut.</param>
    /// <param name="mode">Recovery's mode, when recovery completes a cut a crash interrupted: a kept frame that does not
    /// check (damage besides the crash) then drops the whole kept batch, as a cut of a damaged last write does (Strict
    /// refuses); null for the cut itself, which throws.</param>
    /// <returns>Where the end marker of the cut log lies (-1: the segment is missing, and recovery judges that as any
    /// missing segment), and the records a damaged kept batch dropped (0, 0: none).</returns>
    /// <exception cref="WalCorruptionException">A kept frame is damaged (a damaged disk, not the cut), and the cut is
    /// being made, or recovery is in Strict.</exception>
    public static unsafe (long End, ulong DroppedFrom, ulong DroppedTo) Complete(WalStorage storage, string directory, LogHead head, WalRecoveryMode? mode)
    {
        ulong number = head.RewindSegment;
        string path = SegmentNames.PathOf(directory, number);
        uint salt = SegmentSalt.Of(head.LogId, number);
        long start = head.RewindOffset;
        int records = checked((int)(head.RewindLsn + 1 - head.RewindBatchLsn));
        long end;
        (ulong From, ulong To) dropped = (0, 0);
        WalFile? file = null;
        try
        {
            file = storage.OpenWrite(path, writeThrough: true);
        }
        catch (FileNotFoundException) when (mode is not null)
        {
            // Gone (damage besides the crash): nothing to rewrite; what follows is deleted as the cut says, and recovery
            // then finds the segment missing, as in the log the completed cut would have left.
        }

        if (file is not null)
        {
            using (file)
            {
                long offset = start + BatchHeader.Size;
                if (records > 0)
                {
                    using var scanner = new SegmentScanner();
                    scanner.Attach(file);
                    for (ulong lsn = head.RewindBatchLsn; lsn <= head.RewindLsn; lsn++)
                    {
                        if (!scanner.TryReadFrame(offset, scanner.Length, lsn, salt, out byte* frame, out string? reason))
                        {
                            if (mode is null or WalRecoveryMode.Strict)
                            {
                                throw new WalCorruptionException(path, offset, $"TruncateAfter({head.RewindLsn}) keeps LSN {lsn}, but its frame is damaged: {reason}");
                            }

                            // A write is kept whole or not at all: the kept batch goes, as a damaged last write would.
                            dropped = (head.RewindBatchLsn, head.RewindLsn);
                            records = 0;
                            break;
                        }

                        offset += FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
                    }
                }

                Span<byte> bytes = stackalloc byte[2 * BatchHeader.Size];
                end = records > 0 ? offset : start;
                if (records > 0)
                {
                    fixed (byte* header = bytes)
                    {
                        BatchHeader.Write(header, (int)(offset - start - BatchHeader.Size), head.RewindBatchLsn, records, salt);
                    }

                    file.Write(bytes[..BatchHeader.Size], start);
                }

                BatchHeader.WriteEndMarker(bytes[..BatchHeader.Size], records > 0 ? head.RewindLsn + 1 : head.RewindBatchLsn, salt);
                file.Write(bytes[..BatchHeader.Size], end);
                SegmentWriter.WriteZeros(file, end + BatchHeader.Size, Math.Min(file.Length, Math.Max(end + BatchHeader.Size, head.RewindZeroTo)));
            }
        }
        else
        {
            end = -1;
        }

        foreach (ulong later in SegmentNames.List(storage, directory).Where(n => n > number).OrderDescending())
        {
            storage.DeleteSegment(directory, SegmentNames.PathOf(directory, later));
        }

        foreach (string name in storage.ListFiles(directory, "*" + SegmentNames.PreparingExtension))
        {
            storage.Delete(Path.Combine(directory, name));
        }

        storage.SyncDirectory(directory);
        return (end, dropped.From, dropped.To);
    }

    /// <summary>The head once the cut is complete: the cut is no longer pending; its count and LSN stay.</summary>
    public static LogHead Completed(LogHead head) =>
        head with { Sequence = head.Sequence + 1, RewindSegment = 0, RewindOffset = 0, RewindBatchLsn = 0, RewindZeroTo = 0 };
}
