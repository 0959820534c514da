using System.Diagnostics.Metrics;
using System.Reflection;

namespace Aletheia.Wal.Diagnostics;

/// <summary>
/// The library's <see cref="Meter"/> (<see cref="WalDiagnostics.MeterName"/>), its instruments (listed in
/// <see cref="WalDiagnostics"/>), and the registry of open logs that the observable instruments read.
/// </summary>
/// <remarks>
/// Appends pay nothing for metrics: the observable instruments' callbacks run only when a listener collects, on the
/// listener's thread, and read figures the log keeps anyway (per-stripe counts, the flush thread's totals). They may
/// allocate: they run at the listener's interval, not per record. The histograms are recorded by the flush thread, once
/// per batch, only while enabled (<see cref="WalTelemetry.BatchWritten"/>).
/// </remarks>
internal static class WalMeter
{
    private static readonly Meter s_meter = new(WalDiagnostics.MeterName, InformationalVersion());

    // Guards s_logs. A callback holds it while it reads the logs, and a log leaves the registry under it before its stripes
    // are freed (WriteAheadLog.CompleteDispose): no callback reads a disposed log.
    private static readonly object s_gate = new();
    private static readonly List<WriteAheadLog> s_logs = [];

    /// <summary>Records per batch written.</summary>
    public static readonly Histogram<long> BatchRecords = s_meter.CreateHistogram<long>(
        "aletheia.wal.batch.records", "{record}", "Records in each batch the flush thread wrote.");

    /// <summary>Seconds each batch's write-through write took.</summary>
    public static readonly Histogram<double> WriteDuration = s_meter.CreateHistogram(
        "aletheia.wal.write.duration",
        "s",
        "How long each batch's write-through write took, from the call to its return (until durable).",
        tags: null,
        advice: new InstrumentAdvice<double>
        {
            // From 5 µs (NVMe with a volatile cache off) to 1 s (a stalled disk): the default buckets start at 5 ms.
            HistogramBucketBoundaries = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        });

    /// <summary>Faults of a log (once per log).</summary>
    public static readonly Counter<long> Faults = s_meter.CreateCounter<long>(
        "aletheia.wal.faults", "{fault}", "Logs that faulted (a failed write or cut): they acknowledge nothing more.");

    /// <summary>The observable instruments, read only when a listener collects.</summary>
    public static readonly IReadOnlyList<Instrument> ObservableInstruments =
    [
        s_meter.CreateObservableCounter(
            "aletheia.wal.appends", () => Observe(static log => log.ObservedAppends().Records), "{record}", "Records appended since the log was opened."),
        s_meter.CreateObservableCounter(
            "aletheia.wal.appended_bytes", () => Observe(static log => log.ObservedAppends().Bytes), "By", "Payload bytes appended since the log was opened."),
        s_meter.CreateObservableCounter(
            "aletheia.wal.batches", () => Observe(static log => log.ObservedBatches), "{batch}", "Batches the flush thread wrote since the log was opened."),
        s_meter.CreateObservableCounter(
            "aletheia.wal.written_bytes", () => Observe(static log => log.ObservedBytesWritten), "By", "Bytes of batches (headers and frames) written since the log was opened."),
        s_meter.CreateObservableGauge(
            "aletheia.wal.durable_lag.records", () => Observe(static log => log.ObservedDurableLag().Records), "{record}", "Records handed out and not yet durable."),
        s_meter.CreateObservableGauge(
            "aletheia.wal.durable_lag.age",
            () => Observe(static log => log.ObservedDurableLag().Seconds),
            "s",
            "How long the oldest record not yet durable has waited, from the first flush round that saw it; 0 when none is pending."),
        s_meter.CreateObservableCounter(
            "aletheia.wal.stripe_full_waits",
            () => Observe(static log => log.ObservedStripeFullWaits),
            "{append}",
            "Appends that found their stripe full at their first try, and waited for space or failed."),
        s_meter.CreateObservableGauge(
            "aletheia.wal.recovery.kept_records", () => Observe(static log => log.Telemetry.RecoveryKeptRecords), "{record}", "Records the log held after recovery at open."),
        s_meter.CreateObservableGauge(
            "aletheia.wal.recovery.dropped_records",
            () => Observe(static log => log.Telemetry.RecoveryDroppedRecords),
            "{record}",
            "Records recovery at open dropped, as far as the disk proves it."),
        s_meter.CreateObservableGauge(
            "aletheia.wal.recovery.duration", () => Observe(static log => log.Telemetry.RecoverySeconds), "s", "How long recovery at open took."),
    ];

    /// <summary>Adds an open log to what the observable instruments report.</summary>
    public static void Register(WriteAheadLog log)
    {
        lock (s_gate)
        {
            s_logs.Add(log);
        }
    }

    /// <summary>Removes a log being disposed; on return no callback reads it any more.</summary>
    public static void Unregister(WriteAheadLog log)
    {
        lock (s_gate)
        {
            s_logs.Remove(log);
        }
    }

    private static List<Measurement<T>> Observe<T>(Func<WriteAheadLog, T> read)
        where T : struct
    {
        lock (s_gate)
        {
            var measurements = new List<Measurement<T>>(s_logs.Count);
            foreach (WriteAheadLog log in s_logs)
            {
                measurements.Add(new Measurement<T>(read(log), in log.Telemetry.Tags));
            }

            return measurements;
        }
    }

    private static string? InformationalVersion() =>
        typeof(WalMeter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
}
