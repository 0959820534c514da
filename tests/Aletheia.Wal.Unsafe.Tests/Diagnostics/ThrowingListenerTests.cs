using System.Diagnostics.Metrics;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Diagnostics;

/// <summary>
/// A MeterListener whose measurement callback throws (an exporter's bug) runs on the flush thread, for the histograms and
/// the fault counter: the log goes on as if nothing listened. Found by review: the exception faulted a log whose batch was
/// on disk, killed the process from the flush thread's fault handler, and left a failed TruncateAfter's flush thread held.
/// </summary>
[Collection(nameof(SerialCollection))] // a MeterListener hears every log in the process
public sealed class ThrowingListenerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_throwing_histogram_callback_does_not_fault_the_log()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        Assert.Equal(new Lsn(1), log.AppendDurable("before"u8));
        using (MeterListener listener = Throwing("aletheia.wal.batch.records", "aletheia.wal.write.duration"))
        {
            Assert.Equal(new Lsn(2), log.AppendDurable("during"u8));
            Assert.Equal(new Lsn(3), log.AppendDurable("during"u8));
        }

        Assert.Equal(new Lsn(4), log.AppendDurable("after"u8));
        Assert.Equal(new Lsn(4), log.DurableLsn);
    }

    [Fact]
    public void A_throwing_fault_callback_leaves_a_failed_write_faulting_the_log_and_the_process_alive()
    {
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), StripeCount = 1 }, storage);
        Assert.Equal(new Lsn(1), log.AppendDurable([1]));
        using MeterListener listener = Throwing("aletheia.wal.faults");
        storage.FailSegmentWritesAfter(0);
        var e = Assert.Throws<WalException>(() => log.AppendDurable([2]));
        Assert.Contains("faulted", e.Message, StringComparison.Ordinal);
        Assert.Throws<WalException>(() => log.Append([3]));
        Assert.Equal(new Lsn(1), log.DurableLsn);
    }

    [Fact]
    public async Task A_throwing_fault_callback_in_a_failed_TruncateAfter_faults_the_log_and_holds_nothing()
    {
        var storage = new FaultyStorage();
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), StripeCount = 1 }, storage);
        for (int i = 1; i <= 10; i++)
        {
            Assert.Equal(new Lsn((ulong)i), log.AppendDurable([(byte)i]));
        }

        using (MeterListener listener = Throwing("aletheia.wal.faults"))
        {
            storage.FailSegmentWritesAfter(0);
            var cut = Assert.Throws<WalException>(() => log.TruncateAfter(new Lsn(5)));
            Assert.StartsWith("TruncateAfter(5) could not cut the log", cut.Message, StringComparison.Ordinal);
            Exception? appended = await Task.Run(() => Record.Exception(() => log.AppendDurable([42]))).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.IsType<WalException>(appended);
        }

        await Task.Run(log.Dispose).WaitAsync(TimeSpan.FromSeconds(30)); // returns: nothing is held
    }

    /// <summary>A listener on the named instruments of the log's meter whose every measurement callback throws.</summary>
    private static MeterListener Throwing(params string[] instruments)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == WalDiagnostics.MeterName && instruments.Contains(instrument.Name))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => throw new InvalidOperationException("exporter bug"));
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("exporter bug"));
        listener.Start();
        return listener;
    }
}
