using System.Diagnostics.Metrics;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Listens to every instrument of the library's meter and keeps the measurements of one log, told apart by its
/// <c>wal.directory</c> tag (other tests run logs in parallel, and a <see cref="MeterListener"/> sees them all).
/// </summary>
internal sealed class MeterCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _directory;
    private readonly object _gate = new();
    private readonly List<Measured> _recorded = []; // guarded by _gate: measurements the log's threads pushed (histograms, counters)
    private List<Measured>? _collecting; // guarded by _gate: the observable measurements of the collection under way

    /// <summary>Listens from now on (before the log is opened, to see its every batch).</summary>
    public MeterCapture(string directory)
    {
        _directory = directory;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == WalDiagnostics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>One measurement: its instrument and value, and its tags.</summary>
    public sealed record Measured(Instrument Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>Reads every observable instrument now and returns this log's measurement of each, by instrument name.</summary>
    public Dictionary<string, Measured> Collect()
    {
        var collected = new List<Measured>();
        lock (_gate)
        {
            _collecting = collected;
        }

        _listener.RecordObservableInstruments();
        lock (_gate)
        {
            _collecting = null;
        }

        return collected.ToDictionary(m => m.Instrument.Name); // throws if the log was measured twice by one instrument
    }

    /// <summary>The value of one observable instrument for this log, read now.</summary>
    public double Observed(string instrument)
    {
        Assert.True(Collect().TryGetValue(instrument, out Measured? measured), $"{instrument} reports the log in {_directory}.");
        return measured.Value;
    }

    /// <summary>The values the log's threads recorded so far into a histogram or counter, in order.</summary>
    public List<double> Recorded(string instrument) => RecordedMeasurements(instrument).Select(m => m.Value).ToList();

    /// <summary>The measurements the log's threads recorded so far into a histogram or counter, in order.</summary>
    public List<Measured> RecordedMeasurements(string instrument)
    {
        lock (_gate)
        {
            return _recorded.Where(m => m.Instrument.Name == instrument).ToList();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        bool ours = false;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            ours |= tag.Key == WalDiagnostics.DirectoryTag && (string?)tag.Value == _directory;
        }

        if (!ours)
        {
            return;
        }

        var measured = new Measured(instrument, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value));
        lock (_gate)
        {
            if (instrument.IsObservable)
            {
                _collecting?.Add(measured);
            }
            else
            {
                _recorded.Add(measured);
            }
        }
    }
}
