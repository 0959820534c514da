using System.Diagnostics.Tracing;

namespace Aletheia.Wal;

/// <summary>
/// The names under which the library reports what it does, for monitoring tools and in-process listeners: the meter
/// <see cref="MeterName"/> (System.Diagnostics.Metrics) and the event source <see cref="EventSourceName"/>
/// (System.Diagnostics.Tracing). Nothing is measured or written for a tool that is not listening.
/// </summary>
/// <remarks>
/// <para>Watch a running process with <c>dotnet-counters monitor --counters Aletheia.Wal -p PID</c> and trace it with
/// <c>dotnet-trace collect --providers Aletheia-Wal -p PID</c> (add <c>:0x1F:5</c> for every keyword at Verbose, which
/// includes one event per batch written).</para>
/// <para>Instruments of the meter, each measured for every open log, tagged <see cref="DirectoryTag"/> (the log's full
/// directory path) and, when <see cref="WalOptions.Name"/> is set, <see cref="NameTag"/>:</para>
/// <list type="table">
/// <listheader><term>instrument (kind, unit)</term><description>meaning</description></listheader>
/// <item><term><c>aletheia.wal.appends</c> (observable counter, <c>{record}</c>)</term><description>Records appended since the log was opened (every append form; records a <see cref="WriteAheadLog.TruncateAfter"/> dropped included).</description></item>
/// <item><term><c>aletheia.wal.appended_bytes</c> (observable counter, <c>By</c>)</term><description>Payload bytes of those records.</description></item>
/// <item><term><c>aletheia.wal.batches</c> (observable counter, <c>{batch}</c>)</term><description>Writes of records the flush thread made since open (<see cref="WalMetrics.Batches"/>).</description></item>
/// <item><term><c>aletheia.wal.written_bytes</c> (observable counter, <c>By</c>)</term><description>Bytes of those writes: batch headers and record frames (<see cref="WalMetrics.BytesWritten"/>; end markers and segment headers not counted).</description></item>
/// <item><term><c>aletheia.wal.batch.records</c> (histogram, <c>{record}</c>)</term><description>Records in each batch written, recorded by the flush thread once per batch.</description></item>
/// <item><term><c>aletheia.wal.write.duration</c> (histogram, <c>s</c>)</term><description>How long each batch's write-through write took, from the call to its return (until durable).</description></item>
/// <item><term><c>aletheia.wal.durable_lag.records</c> (observable gauge, <c>{record}</c>)</term><description><see cref="WriteAheadLog.LastLsn"/> - <see cref="WriteAheadLog.DurableLsn"/>: records handed out and not yet durable.</description></item>
/// <item><term><c>aletheia.wal.durable_lag.age</c> (observable gauge, <c>s</c>)</term><description>How long the oldest record not yet durable has waited, counted from the start of the first flush round that saw its LSN handed out: 0 when every record handed out is durable (or the flush thread has not looked since the oldest was appended). It reads low by at most the time from the append to the flush thread's next look (the flush thread looks again as soon as a write returns, and a parked one is woken by the append), never high. A write that hangs shows as an age that grows.</description></item>
/// <item><term><c>aletheia.wal.stripe_full_waits</c> (observable counter, <c>{append}</c>)</term><description>Appends that found their stripe full (or paused by a running <see cref="WriteAheadLog.TruncateAfter"/>) at their first try, and so waited for space, or failed (<see cref="WriteAheadLog.TryAppend"/> returning false, a timeout): each call counted once, however long it waited.</description></item>
/// <item><term><c>aletheia.wal.faults</c> (counter, <c>{fault}</c>)</term><description>1 when the log faults (a failed write, a failed cut of <see cref="WriteAheadLog.TruncateAfter"/>): it then acknowledges nothing more.</description></item>
/// <item><term><c>aletheia.wal.recovery.kept_records</c> (observable gauge, <c>{record}</c>)</term><description>Records the log held after recovery at open: <see cref="WriteAheadLog.LastLsn"/> - <see cref="WriteAheadLog.OldestLsn"/> + 1 then, 0 for an empty log.</description></item>
/// <item><term><c>aletheia.wal.recovery.dropped_records</c> (observable gauge, <c>{record}</c>)</term><description>Records recovery at open dropped as far as the disk proves it: the LSNs from <see cref="WalMetrics.RecoveryDroppedFrom"/> to <see cref="WalMetrics.RecoveryDroppedTo"/>; 0 when nothing was dropped, and also when a cut's range is unknown (RecoveryDroppedTo is <see cref="Lsn.None"/>: nothing intact after the damage speaks of a record).</description></item>
/// <item><term><c>aletheia.wal.recovery.duration</c> (observable gauge, <c>s</c>)</term><description>How long recovery at open took (reading the log, and cutting and sealing it).</description></item>
/// </list>
/// <para>Observable instruments are read only when a listener collects (at its interval), from figures the log keeps
/// anyway: appends pay nothing for them. Their values start at 0 each time a log is opened, and a disposed log's series end.
/// The histograms are recorded by the flush thread, once per batch, only while a listener has them enabled, and allocate
/// nothing. So a listener's measurement callback for them (and for <c>aletheia.wal.faults</c>, and an
/// <c>EventListener</c>'s for the events) runs on the flush thread: one that blocks delays every durable append of the log
/// for as long; one that throws is ignored, and the log goes on.</para>
/// </remarks>
public static class WalDiagnostics
{
    /// <summary>The name (and version: the assembly's informational version) of the library's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Aletheia.Wal";

    /// <summary>The name of the library's <see cref="EventSource"/> (its GUID is derived from the name, as EventSource does).</summary>
    public const string EventSourceName = "Aletheia-Wal";

    /// <summary>The tag of every instrument that holds the log's directory: its full path, as <see cref="WriteAheadLog.Directory"/>.</summary>
    public const string DirectoryTag = "wal.directory";

    /// <summary>The tag of every instrument that holds <see cref="WalOptions.Name"/>; absent when no name was given.</summary>
    public const string NameTag = "wal.name";

    /// <summary>Events of the flush thread: one per batch written (Verbose).</summary>
    public const EventKeywords FlushKeyword = (EventKeywords)0x1;

    /// <summary>Events of segment files: rotated, prepared, recycled, deleted.</summary>
    public const EventKeywords SegmentsKeyword = (EventKeywords)0x2;

    /// <summary>Events of recovery at open: started, finished (Warning when records were dropped), failed.</summary>
    public const EventKeywords RecoveryKeyword = (EventKeywords)0x4;

    /// <summary>Events of faults (Error).</summary>
    public const EventKeywords FaultsKeyword = (EventKeywords)0x8;

    /// <summary>Events of <see cref="WriteAheadLog.TruncateBefore"/> and <see cref="WriteAheadLog.TruncateAfter"/>.</summary>
    public const EventKeywords TruncationKeyword = (EventKeywords)0x10;
}
