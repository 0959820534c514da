using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Diagnostics;

/// <summary>
/// The meter's instruments, read with a <see cref="System.Diagnostics.Metrics.MeterListener"/> for one log (by its
/// <c>wal.directory</c> tag): exact values against what the test appended and against <see cref="WriteAheadLog.GetMetrics"/>.
/// </summary>
public sealed class WalMeterTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Counters_read_exactly_what_was_appended_and_written_and_the_histograms_one_measurement_per_batch()
    {
        string directory = _temp.Log();
        using var capture = new MeterCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 4, Name = "orders" });
        const int Records = 3000;
        long payloadBytes = 0;
        var appenders = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            for (int i = t; i < Records; i += 3)
            {
                log.Append(Payloads.Make(t, i, SizeOf(i)));
            }
        })).ToArray();
        for (int i = 0; i < Records; i++)
        {
            payloadBytes += SizeOf(i);
        }

        foreach (Thread appender in appenders)
        {
            appender.Start();
        }

        foreach (Thread appender in appenders)
        {
            Assert.True(appender.Join(TimeSpan.FromSeconds(60)), "The appenders finish.");
        }

        log.Flush();
        WalMetrics metrics = log.GetMetrics();
        Dictionary<string, MeterCapture.Measured> observed = capture.Collect();

        Assert.Equal(Records, observed["aletheia.wal.appends"].Value);
        Assert.Equal(payloadBytes, observed["aletheia.wal.appended_bytes"].Value);
        Assert.Equal(metrics.Batches, observed["aletheia.wal.batches"].Value);
        Assert.Equal(metrics.BytesWritten, observed["aletheia.wal.written_bytes"].Value);
        Assert.Equal(Records, metrics.RecordsWritten); // the batches counted hold every record, so the figures compared are whole
        Assert.Equal(0, observed["aletheia.wal.durable_lag.records"].Value); // Flush returned: everything handed out is durable
        Assert.Equal(0, observed["aletheia.wal.durable_lag.age"].Value);
        Assert.Equal(0, observed["aletheia.wal.stripe_full_waits"].Value); // 1 MiB stripes never fill with 60 KB
        Assert.Equal(0, observed["aletheia.wal.recovery.kept_records"].Value); // a new log
        Assert.Equal(0, observed["aletheia.wal.recovery.dropped_records"].Value);

        // The histograms, recorded by the flush thread before each batch is reported durable: all of them by now.
        List<double> durations = capture.Recorded("aletheia.wal.write.duration");
        List<double> batchRecords = capture.Recorded("aletheia.wal.batch.records");
        Assert.Equal(metrics.Batches, durations.Count);
        Assert.All(durations, d => Assert.True(d > 0 && d < 60, $"A write's duration, {d} s, is in seconds."));
        Assert.Equal(metrics.Batches, batchRecords.Count);
        Assert.Equal(Records, batchRecords.Sum());
        Assert.Empty(capture.Recorded("aletheia.wal.faults"));

        // Every measurement carries the log's tags: its full directory path and its name.
        Assert.All(observed.Values, m =>
        {
            Assert.Equal(log.Directory, m.Tags[WalDiagnostics.DirectoryTag]);
            Assert.Equal("orders", m.Tags[WalDiagnostics.NameTag]);
            Assert.Equal(2, m.Tags.Count);
        });
        Assert.Equal(WalDiagnostics.MeterName, observed["aletheia.wal.appends"].Instrument.Meter.Name);
        Assert.Equal(
            typeof(WriteAheadLog).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion,
            observed["aletheia.wal.appends"].Instrument.Meter.Version);
    }

    [Fact]
    public void Units_and_kinds_follow_the_documented_table()
    {
        string directory = _temp.Log();
        using var capture = new MeterCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        log.AppendDurable([1]);
        Dictionary<string, MeterCapture.Measured> observed = capture.Collect();

        var expected = new Dictionary<string, (string Unit, string Kind)>
        {
            ["aletheia.wal.appends"] = ("{record}", "ObservableCounter`1"),
            ["aletheia.wal.appended_bytes"] = ("By", "ObservableCounter`1"),
            ["aletheia.wal.batches"] = ("{batch}", "ObservableCounter`1"),
            ["aletheia.wal.written_bytes"] = ("By", "ObservableCounter`1"),
            ["aletheia.wal.durable_lag.records"] = ("{record}", "ObservableGauge`1"),
            ["aletheia.wal.durable_lag.age"] = ("s", "ObservableGauge`1"),
            ["aletheia.wal.stripe_full_waits"] = ("{append}", "ObservableCounter`1"),
            ["aletheia.wal.recovery.kept_records"] = ("{record}", "ObservableGauge`1"),
            ["aletheia.wal.recovery.dropped_records"] = ("{record}", "ObservableGauge`1"),
            ["aletheia.wal.recovery.duration"] = ("s", "ObservableGauge`1"),
        };
        Assert.Equal(expected.Keys.Order(), observed.Keys.Order());
        Assert.All(observed.Values, m => Assert.Equal(expected[m.Instrument.Name], (m.Instrument.Unit!, m.Instrument.GetType().Name)));
        Assert.All(observed.Values, m => Assert.False(m.Tags.ContainsKey(WalDiagnostics.NameTag), "No name given: no wal.name tag."));

        // The instruments the log's threads record into: one batch, one measurement each.
        MeterCapture.Measured duration = Assert.Single(capture.RecordedMeasurements("aletheia.wal.write.duration"));
        MeterCapture.Measured records = Assert.Single(capture.RecordedMeasurements("aletheia.wal.batch.records"));
        Assert.Equal(("s", "Histogram`1"), (duration.Instrument.Unit, duration.Instrument.GetType().Name));
        Assert.Equal(("{record}", "Histogram`1", 1.0), (records.Instrument.Unit, records.Instrument.GetType().Name, records.Value));
        Assert.Equal(("{fault}", "Counter`1"), (Aletheia.Wal.Diagnostics.WalMeter.Faults.Unit, Aletheia.Wal.Diagnostics.WalMeter.Faults.GetType().Name));
    }

    [Fact]
    public async Task Stripe_full_waits_count_each_append_that_found_its_stripe_full_once_and_durable_lag_shows_a_held_write()
    {
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        using var capture = new MeterCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024 }, storage);
        using var held = new HeldWrites(storage); // released before the log is disposed, also when an assertion fails
        byte[] payload = new byte[100];
        held.Hold();
        var sinceFirstAppend = Stopwatch.StartNew();
        log.Append(payload); // the flush thread takes it and is held in its write
        held.WaitUntilInWrite();
        var sinceInWrite = Stopwatch.StartNew(); // the flush thread dated the record before it began this write

        int appended = 1;
        while (log.TryAppend(payload, out _))
        {
            appended++; // fills the stripe: nothing is released while the write is held
        }

        Assert.False(log.TryAppend(payload, out _));
        Assert.False(log.TryAppend(payload, out _)); // three TryAppend calls found it full so far
        Assert.False(log.TryAppendDurable(payload, TimeSpan.FromMilliseconds(100), out Lsn timedOut)); // tries again and again: one
        Assert.Equal(Lsn.None, timedOut);
        Assert.Equal(4, capture.Observed("aletheia.wal.stripe_full_waits"));

        // Waiting appends of every blocking form, each counted once however long it waits.
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // Threads of their own (a failed assertion leaves them to fail with the disposed log, not the test host).
        Task blocked = Task.Factory.StartNew(() => log.Append(payload), TaskCreationOptions.LongRunning);
        Task cancellable = Task.Factory.StartNew(() => log.AppendDurable(payload, cancellation.Token), TaskCreationOptions.LongRunning); // waits in 20 ms slices
        Task<Lsn> pending = log.AppendDurableAsync(payload).AsTask();
        Assert.True(SpinWait.SpinUntil(() => capture.Observed("aletheia.wal.stripe_full_waits") == 7, TimeSpan.FromSeconds(30)), "The three waiting appends are counted.");
        Thread.Sleep(200); // several slices of the cancellable append and retries of the async one: not counted again
        Assert.Equal(7, capture.Observed("aletheia.wal.stripe_full_waits"));
        Assert.False(pending.IsCompleted);

        // Durable lag while the write is held: every record handed out waits, the oldest since the round that took it.
        TimeSpan lower = sinceInWrite.Elapsed;
        Dictionary<string, MeterCapture.Measured> observed = capture.Collect();
        TimeSpan bound = sinceFirstAppend.Elapsed;
        Assert.Equal(appended, observed["aletheia.wal.durable_lag.records"].Value);
        Assert.Equal((ulong)appended, log.LastLsn.Value - log.DurableLsn.Value);
        double age = observed["aletheia.wal.durable_lag.age"].Value;
        Assert.True(
            age >= lower.TotalSeconds && age <= bound.TotalSeconds,
            $"The oldest record waited {age} s: at least the {lower} since the flush thread was seen in the write it dated it before (the test slept 200 ms of it above), at most the {bound} since it was appended.");
        Assert.True(lower.TotalSeconds >= 0.2, $"The test waited {lower} while the write was held: at least its 200 ms sleep.");

        held.Release();
        await Task.WhenAll(pending, blocked, cancellable).WaitAsync(TimeSpan.FromSeconds(30)); // the waiting appends complete once space frees
        log.Flush();
        observed = capture.Collect();
        Assert.Equal(7, observed["aletheia.wal.stripe_full_waits"].Value);
        Assert.Equal(appended + 3, observed["aletheia.wal.appends"].Value);
        Assert.Equal(0, observed["aletheia.wal.durable_lag.records"].Value);
        Assert.Equal(0, observed["aletheia.wal.durable_lag.age"].Value);
    }

    [Fact]
    public void A_log_recovered_from_a_torn_tail_reports_the_records_kept_and_dropped_exactly()
    {
        string directory = _temp.Log();
        (ulong kept, ulong dropped) = TornLog.Write(directory);
        using var capture = new MeterCapture(directory);
        var opening = Stopwatch.StartNew();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        TimeSpan bound = opening.Elapsed;

        WalMetrics metrics = log.GetMetrics();
        Assert.Equal((new Lsn(kept + 1), new Lsn(kept + dropped)), (metrics.RecoveryDroppedFrom, metrics.RecoveryDroppedTo));
        Dictionary<string, MeterCapture.Measured> observed = capture.Collect();
        Assert.Equal(kept, observed["aletheia.wal.recovery.kept_records"].Value);
        Assert.Equal(dropped, observed["aletheia.wal.recovery.dropped_records"].Value);
        double seconds = observed["aletheia.wal.recovery.duration"].Value;
        Assert.True(seconds > 0 && seconds <= bound.TotalSeconds, $"Recovery took {seconds} s, within the {bound} Open took.");

        // The figures stay those of this open while the log runs.
        log.AppendDurable([1]);
        Assert.Equal(dropped, capture.Observed("aletheia.wal.recovery.dropped_records"));
    }

    [Fact]
    public void A_failed_write_counts_one_fault_and_a_disposed_log_is_no_longer_reported()
    {
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        using var capture = new MeterCapture(directory);
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 2 }, storage);
        log.AppendDurable([1]);
        storage.FailSegmentWritesAfter(0);
        Assert.Throws<WalException>(() => log.AppendDurable([2]));
        Assert.Throws<WalException>(() => log.AppendDurable([3])); // faulted already: not a second fault

        Assert.Equal([1.0], capture.Recorded("aletheia.wal.faults")); // recorded before the waiter was told
        Assert.Equal(1, capture.Observed("aletheia.wal.batches"));
        Assert.Equal(1, capture.Observed("aletheia.wal.durable_lag.records")); // record 2 was handed out and never made durable

        log.Dispose();
        Assert.Empty(capture.Collect()); // the registry let go of it
        Assert.Equal([1.0], capture.Recorded("aletheia.wal.faults"));
    }

    private static int SizeOf(int i) => 1 + (i * 7 % 40);
}
