using System.Diagnostics.Metrics;

namespace Aletheia.Wal.Worker;

/// <summary>
/// A <see cref="MeterListener"/> enabled for every instrument of the library's meter (<see cref="WalDiagnostics.MeterName"/>),
/// histograms included, whose measurement callbacks allocate nothing: they only count measurements and add up values. For
/// the allocation measurements with a listener attached (here and in the test process).
/// </summary>
public sealed class CountingMeterListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _measurements;
    private long _writeDurations;

    public CountingMeterListener()
    {
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == WalDiagnostics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) => Count(instrument));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, state) => Count(instrument));
        _listener.Start();
    }

    /// <summary>Measurements received, of every instrument.</summary>
    public long Measurements => Interlocked.Read(ref _measurements);

    /// <summary>Measurements of the write-latency histogram (<c>aletheia.wal.write.duration</c>): one per batch written.</summary>
    public long WriteDurations => Interlocked.Read(ref _writeDurations);

    /// <summary>Reads every observable instrument once (their callbacks may allocate: not inside a measured window).</summary>
    public void Collect() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();

    private void Count(Instrument instrument)
    {
        // Interlocked: the flush threads and a collecting thread call this at once; the counts are read after they are done.
        Interlocked.Increment(ref _measurements);
        if (instrument.Name == "aletheia.wal.write.duration")
        {
            Interlocked.Increment(ref _writeDurations);
        }
    }
}
