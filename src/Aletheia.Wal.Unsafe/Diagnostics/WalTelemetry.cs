using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace Aletheia.Wal.Diagnostics;

/// <summary>
/// One log's identity in the meter and the event source (its tags, built once), what recovery at open found, and the
/// measurements only the log's own threads can make: a batch written (flush thread) and the log's fault.
/// </summary>
internal sealed class WalTelemetry
{
    private readonly TagList _tags; // built once: recorded by reference (in), so no measurement copies or allocates it
    private int _faultReported;

    public WalTelemetry(string directory, string? name)
    {
        Directory = directory;
        Name = name;
        _tags = name is null
            ? new TagList { { WalDiagnostics.DirectoryTag, directory } }
            : new TagList { { WalDiagnostics.DirectoryTag, directory }, { WalDiagnostics.NameTag, name } };
    }

    /// <summary>The log's directory, its full path: the <c>wal.directory</c> tag, and every event's first field.</summary>
    public string Directory { get; }

    /// <summary><see cref="WalOptions.Name"/>: the <c>wal.name</c> tag when set.</summary>
    public string? Name { get; }

    /// <summary>The tags of every measurement of this log.</summary>
    public ref readonly TagList Tags => ref _tags;

    /// <summary>Records the log held after recovery at open.</summary>
    public long RecoveryKeptRecords { get; init; }

    /// <summary>Records recovery at open dropped, as far as the disk proves it (the reported range; 0 when unknown).</summary>
    public long RecoveryDroppedRecords { get; init; }

    /// <summary>How long recovery at open took, in seconds.</summary>
    public double RecoverySeconds { get; init; }

    /// <summary>
    /// Flush thread, once a batch's write returned and before its records are reported durable: the histograms and the
    /// event, each only while a listener has it enabled. Allocates nothing. A listener's callback runs here, on the flush
    /// thread: one that blocks delays every durable append for as long, and one that throws is ignored.
    /// </summary>
    public void BatchWritten(int records, long bytes, ulong firstLsn, ulong lastLsn, long elapsedTicks)
    {
        try
        {
            if (WalMeter.BatchRecords.Enabled)
            {
                WalMeter.BatchRecords.Record(records, in _tags);
            }

            if (WalMeter.WriteDuration.Enabled)
            {
                WalMeter.WriteDuration.Record((double)elapsedTicks / Stopwatch.Frequency, in _tags);
            }

            if (WalEventSource.Log.IsEnabled(EventLevel.Verbose, WalEventSource.Keywords.Flush))
            {
                WalEventSource.Log.BatchWritten(Directory, records, bytes, firstLsn, lastLsn, elapsedTicks * 1_000_000.0 / Stopwatch.Frequency);
            }
        }
        catch (Exception)
        {
            // A MeterListener's measurement callback threw (an EventListener's are caught by EventSource already): the
            // log goes on as if nothing listened. Let through, it would fault a log whose batch is on disk, kill the
            // process from the flush thread's fault handler, or leave the flush thread held by a failed cut.
        }
    }

    /// <summary>
    /// The log faults with <paramref name="cause"/>: counted and written once, by the first caller (a failed cut faults the
    /// log, and the flush thread it held then stops with an error of its own, which is not a second fault).
    /// </summary>
    public void Faulted(Exception cause)
    {
        // Interlocked: the flush thread and a TruncateAfter's thread may both report; the first one wins. No ordering needed.
        if (Interlocked.Exchange(ref _faultReported, 1) != 0)
        {
            return;
        }

        try
        {
            if (WalMeter.Faults.Enabled)
            {
                WalMeter.Faults.Add(1, in _tags);
            }

            if (WalEventSource.Log.IsEnabled(EventLevel.Error, WalEventSource.Keywords.Faults))
            {
                WalEventSource.Log.Faulted(Directory, cause.GetType().FullName ?? cause.GetType().Name, cause.Message);
            }
        }
        catch (Exception)
        {
            // A MeterListener's measurement callback threw (an EventListener's are caught by EventSource already): the
            // log goes on as if nothing listened. Let through, it would fault a log whose batch is on disk, kill the
            // process from the flush thread's fault handler, or leave the flush thread held by a failed cut.
        }
    }

}
