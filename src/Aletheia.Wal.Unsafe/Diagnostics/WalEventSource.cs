using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace Aletheia.Wal.Diagnostics;

/// <summary>
/// The library's events, as <see cref="WalDiagnostics.EventSourceName"/> (<c>Aletheia-Wal</c>): what the flush thread
/// wrote, what happened to segment files, recovery at open, faults and truncations. Every event carries the log's
/// directory (its full path) first, so that a listener tells logs apart.
/// </summary>
/// <remarks>
/// Every call site checks <see cref="EventSource.IsEnabled(EventLevel, EventKeywords)"/> for the event's level and keyword
/// first: off, an event costs that one check (a field read when no session listens at all). The events are written with
/// <see cref="EventSource.WriteEventCore"/> over stack-allocated <see cref="EventSource.EventData"/> (strings pinned in
/// place), so none allocates a <c>params object[]</c>; the flush thread's event allocates nothing itself (an in-process
/// <see cref="EventListener"/> allocates its own event arguments; EventPipe sessions, as dotnet-trace, do not).
/// <list type="table">
/// <listheader><term>id, event (level, keyword)</term><description>payload</description></listheader>
/// <item><term>1 BatchWritten (Verbose, Flush)</term><description>Directory, Records, Bytes, FirstLsn, LastLsn, LatencyMicroseconds</description></item>
/// <item><term>2 SegmentRotated (Informational, Segments)</term><description>Directory, Segment, Path, FirstLsn: the flush thread closed the previous segment and opened this one, which starts at FirstLsn</description></item>
/// <item><term>3 SegmentPrepared (Informational, Segments)</term><description>Directory, Segment, Path, Reused: the segment was made ready ahead of need, zero-filled or (Reused) from a recycled file</description></item>
/// <item><term>4 SegmentRecycled (Informational, Segments)</term><description>Directory, Segment, Path: a segment truncated away was kept for reuse (Path: its <c>.recycle</c> name)</description></item>
/// <item><term>5 SegmentDeleted (Informational, Segments)</term><description>Directory, Segment, Path: a segment file (or a recycled one) was deleted</description></item>
/// <item><term>6 RecoveryStarted (Informational, Recovery)</term><description>Directory, Mode</description></item>
/// <item><term>7 RecoveryFinished (Informational, Recovery)</term><description>Directory, Mode, Verdict, RecordsKept, DroppedFrom, DroppedTo, ElapsedMilliseconds: nothing dropped</description></item>
/// <item><term>8 RecoveryDroppedRecords (Warning, Recovery)</term><description>The same payload as 7: recovery dropped the records from DroppedFrom (to DroppedTo, 0 when unknown)</description></item>
/// <item><term>9 RecoveryFailed (Error, Recovery)</term><description>Directory, Mode, ExceptionType, Message, ElapsedMilliseconds: the log was not opened</description></item>
/// <item><term>10 Faulted (Error, Faults)</term><description>Directory, ExceptionType, Message: the log acknowledges nothing more</description></item>
/// <item><term>11 TruncatedBefore (Informational, Truncation)</term><description>Directory, Lsn (as asked), SegmentsRemoved, OldestLsn (after): every call that returns, also one that removed nothing</description></item>
/// <item><term>12 TruncatedAfter (Informational, Truncation)</term><description>Directory, Lsn, DroppedFrom (Lsn + 1), DroppedTo (the last LSN handed out before the cut), RewroteDisk (false: every dropped record was still in memory): every call that dropped records (one at <see cref="WriteAheadLog.LastLsn"/> drops none and writes none)</description></item>
/// </list>
/// Verdicts: <c>Clean</c> (nothing dropped), <c>TornTail</c> (an interrupted last write cut), <c>Corruption</c> (damage cut,
/// PointInTime), <c>RecordedCut</c> (a cut an earlier, interrupted open recorded, reported again).
/// </remarks>
[EventSource(Name = WalDiagnostics.EventSourceName)]
internal sealed unsafe class WalEventSource : EventSource
{
    public const int BatchWrittenId = 1;
    public const int SegmentRotatedId = 2;
    public const int SegmentPreparedId = 3;
    public const int SegmentRecycledId = 4;
    public const int SegmentDeletedId = 5;
    public const int RecoveryStartedId = 6;
    public const int RecoveryFinishedId = 7;
    public const int RecoveryDroppedRecordsId = 8;
    public const int RecoveryFailedId = 9;
    public const int FaultedId = 10;
    public const int TruncatedBeforeId = 11;
    public const int TruncatedAfterId = 12;

    public static readonly WalEventSource Log = new();

    private WalEventSource()
    {
    }

    /// <summary>The keywords (the values of <see cref="WalDiagnostics"/>' keyword constants; EventSource reads them from here).</summary>
    public static class Keywords
    {
        public const EventKeywords Flush = WalDiagnostics.FlushKeyword;
        public const EventKeywords Segments = WalDiagnostics.SegmentsKeyword;
        public const EventKeywords Recovery = WalDiagnostics.RecoveryKeyword;
        public const EventKeywords Faults = WalDiagnostics.FaultsKeyword;
        public const EventKeywords Truncation = WalDiagnostics.TruncationKeyword;
    }

    /// <summary>Flush thread: a batch was written and is durable (written before its records are reported durable).</summary>
    [Event(BatchWrittenId, Level = EventLevel.Verbose, Keywords = Keywords.Flush, Message = "Wrote {1} records ({2} bytes), LSNs {3} to {4}, in {5} µs")]
    public void BatchWritten(string directory, int records, long bytes, ulong firstLsn, ulong lastLsn, double latencyMicroseconds)
    {
        fixed (char* d = directory)
        {
            EventData* data = stackalloc EventData[6];
            Set(data, d, directory);
            Set(data + 1, &records);
            Set(data + 2, &bytes);
            Set(data + 3, &firstLsn);
            Set(data + 4, &lastLsn);
            Set(data + 5, &latencyMicroseconds);
            Write(BatchWrittenId, 6, data);
        }
    }

    [Event(SegmentRotatedId, Level = EventLevel.Informational, Keywords = Keywords.Segments, Message = "Segment {1} opened at LSN {3}: {2}")]
    public void SegmentRotated(string directory, ulong segment, string path, ulong firstLsn) => WriteSegment(SegmentRotatedId, directory, segment, path, firstLsn);

    [Event(SegmentPreparedId, Level = EventLevel.Informational, Keywords = Keywords.Segments, Message = "Segment {1} prepared (reused: {3}): {2}")]
    public void SegmentPrepared(string directory, ulong segment, string path, bool reused) =>
        WriteSegment(SegmentPreparedId, directory, segment, path, reused ? 1 : 0); // EventSource writes a bool as a 4-byte word

    [Event(SegmentRecycledId, Level = EventLevel.Informational, Keywords = Keywords.Segments, Message = "Segment {1} kept for reuse: {2}")]
    public void SegmentRecycled(string directory, ulong segment, string path) => WriteSegment(SegmentRecycledId, directory, segment, path);

    [Event(SegmentDeletedId, Level = EventLevel.Informational, Keywords = Keywords.Segments, Message = "Segment {1} deleted: {2}")]
    public void SegmentDeleted(string directory, ulong segment, string path) => WriteSegment(SegmentDeletedId, directory, segment, path);

    [Event(RecoveryStartedId, Level = EventLevel.Informational, Keywords = Keywords.Recovery, Message = "Recovering {0} ({1})")]
    public void RecoveryStarted(string directory, string mode)
    {
        fixed (char* d = directory, m = mode)
        {
            EventData* data = stackalloc EventData[2];
            Set(data, d, directory);
            Set(data + 1, m, mode);
            Write(RecoveryStartedId, 2, data);
        }
    }

    [Event(RecoveryFinishedId, Level = EventLevel.Informational, Keywords = Keywords.Recovery, Message = "Recovered {0} ({1}): {2}, {3} records kept, in {6} ms")]
    public void RecoveryFinished(string directory, string mode, string verdict, ulong recordsKept, ulong droppedFrom, ulong droppedTo, double elapsedMilliseconds) =>
        WriteRecovery(RecoveryFinishedId, directory, mode, verdict, recordsKept, droppedFrom, droppedTo, elapsedMilliseconds);

    [Event(RecoveryDroppedRecordsId, Level = EventLevel.Warning, Keywords = Keywords.Recovery, Message = "Recovered {0} ({1}): {2}, {3} records kept, records from LSN {4} to {5} (0: unknown) dropped, in {6} ms")]
    public void RecoveryDroppedRecords(string directory, string mode, string verdict, ulong recordsKept, ulong droppedFrom, ulong droppedTo, double elapsedMilliseconds) =>
        WriteRecovery(RecoveryDroppedRecordsId, directory, mode, verdict, recordsKept, droppedFrom, droppedTo, elapsedMilliseconds);

    [Event(RecoveryFailedId, Level = EventLevel.Error, Keywords = Keywords.Recovery, Message = "Recovery of {0} ({1}) failed after {4} ms: {2}: {3}")]
    public void RecoveryFailed(string directory, string mode, string exceptionType, string message, double elapsedMilliseconds)
    {
        fixed (char* d = directory, m = mode, t = exceptionType, s = message)
        {
            EventData* data = stackalloc EventData[5];
            Set(data, d, directory);
            Set(data + 1, m, mode);
            Set(data + 2, t, exceptionType);
            Set(data + 3, s, message);
            Set(data + 4, &elapsedMilliseconds);
            Write(RecoveryFailedId, 5, data);
        }
    }

    [Event(FaultedId, Level = EventLevel.Error, Keywords = Keywords.Faults, Message = "The log in {0} faulted: {1}: {2}")]
    public void Faulted(string directory, string exceptionType, string message)
    {
        fixed (char* d = directory, t = exceptionType, s = message)
        {
            EventData* data = stackalloc EventData[3];
            Set(data, d, directory);
            Set(data + 1, t, exceptionType);
            Set(data + 2, s, message);
            Write(FaultedId, 3, data);
        }
    }

    [Event(TruncatedBeforeId, Level = EventLevel.Informational, Keywords = Keywords.Truncation, Message = "TruncateBefore({1}) removed {2} segments; the oldest LSN is {3}")]
    public void TruncatedBefore(string directory, ulong lsn, int segmentsRemoved, ulong oldestLsn)
    {
        fixed (char* d = directory)
        {
            EventData* data = stackalloc EventData[4];
            Set(data, d, directory);
            Set(data + 1, &lsn);
            Set(data + 2, &segmentsRemoved);
            Set(data + 3, &oldestLsn);
            Write(TruncatedBeforeId, 4, data);
        }
    }

    [Event(TruncatedAfterId, Level = EventLevel.Informational, Keywords = Keywords.Truncation, Message = "TruncateAfter({1}) dropped LSNs {2} to {3} (disk rewritten: {4})")]
    public void TruncatedAfter(string directory, ulong lsn, ulong droppedFrom, ulong droppedTo, bool rewroteDisk)
    {
        int rewroteWord = rewroteDisk ? 1 : 0; // EventSource writes a bool as a 4-byte word
        fixed (char* d = directory)
        {
            EventData* data = stackalloc EventData[5];
            Set(data, d, directory);
            Set(data + 1, &lsn);
            Set(data + 2, &droppedFrom);
            Set(data + 3, &droppedTo);
            Set(data + 4, &rewroteWord);
            Write(TruncatedAfterId, 5, data);
        }
    }

    /// <summary>A segment event with a fourth field, <paramref name="extra"/>.</summary>
    [NonEvent]
    private void WriteSegment<T>(int id, string directory, ulong segment, string path, T extra)
        where T : unmanaged
    {
        fixed (char* d = directory, p = path)
        {
            EventData* data = stackalloc EventData[4];
            Set(data, d, directory);
            Set(data + 1, &segment);
            Set(data + 2, p, path);
            Set(data + 3, &extra);
            Write(id, 4, data);
        }
    }

    [NonEvent]
    private void WriteSegment(int id, string directory, ulong segment, string path)
    {
        fixed (char* d = directory, p = path)
        {
            EventData* data = stackalloc EventData[3];
            Set(data, d, directory);
            Set(data + 1, &segment);
            Set(data + 2, p, path);
            Write(id, 3, data);
        }
    }

    [NonEvent]
    private void WriteRecovery(int id, string directory, string mode, string verdict, ulong recordsKept, ulong droppedFrom, ulong droppedTo, double elapsedMilliseconds)
    {
        fixed (char* d = directory, m = mode, v = verdict)
        {
            EventData* data = stackalloc EventData[7];
            Set(data, d, directory);
            Set(data + 1, m, mode);
            Set(data + 2, v, verdict);
            Set(data + 3, &recordsKept);
            Set(data + 4, &droppedFrom);
            Set(data + 5, &droppedTo);
            Set(data + 6, &elapsedMilliseconds);
            Write(id, 7, data);
        }
    }

    /// <summary>Writes an event whose fields are all primitives and strings, described in place by <paramref name="data"/>.</summary>
    [NonEvent]
    [UnconditionalSuppressMessage(
        "ReflectionAnalysis", "IL2026:RequiresUnreferencedCode", Justification = "Every field is a primitive or a string: nothing is serialized by reflection.")]
    private void Write(int id, int count, EventData* data) => WriteEventCore(id, count, data);

    /// <summary>A string field: its characters and the terminating NUL, pinned by the caller (<paramref name="chars"/>).</summary>
    [NonEvent]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Set(EventData* data, char* chars, string value)
    {
        data->DataPointer = (IntPtr)chars;
        data->Size = (value.Length + 1) * sizeof(char);
    }

    /// <summary>A primitive field, on the caller's stack.</summary>
    [NonEvent]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Set<T>(EventData* data, T* value)
        where T : unmanaged
    {
        data->DataPointer = (IntPtr)value;
        data->Size = sizeof(T);
    }
}
