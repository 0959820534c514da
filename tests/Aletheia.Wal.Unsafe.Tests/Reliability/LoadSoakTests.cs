using System.Diagnostics;
using Aletheia.Wal.Native;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// Load and soak: 64 threads mixing every append and wait form for a bounded time (ALETHEIA_SOAK_SECONDS, default 8),
/// and appenders held on full stripes by a slow device. Alone in the serial collection: they measure the process.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LoadSoakTests(ITestOutputHelper output) : IDisposable
{
    private const int Threads = 64;
    private const int Forms = 8;
    private const int WarmupSeconds = 2;
    private const int StallSeconds = 15;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Sixty_four_threads_mixing_every_form_keep_memory_flat_and_throughput_steady()
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("ALETHEIA_SOAK_SECONDS"), out int soak) ? soak : 8;
        var options = new WalOptions
        {
            Directory = _temp.Log(),
            StripeCount = 4,
            StripeCapacityBytes = 64 * 1024,
            SegmentSizeBytes = 1 << 20,
            MaxEntryBytes = 1024,
            MaxRecycledSegments = 4,
        };
        var appended = new long[Threads];
        var perSecond = new List<long>();
        long managedGrowth = 0;
        long nativeGrowth = 0;
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(options);
            using var stop = new CancellationTokenSource();
            var producers = new Thread(() => Bounded.Parallel(Threads, index => Produce(log, index, appended, stop.Token), TimeSpan.FromSeconds(seconds + 120)));
            producers.Start();

            long managedBaseline = 0;
            long nativeBaseline = 0;
            ulong previous = 0;
            int stalled = 0;
            for (int second = 1; second <= seconds; second++)
            {
                Thread.Sleep(1000);
                ulong durable = log.DurableLsn.Value;
                stalled = durable == previous ? stalled + 1 : 0;
                Assert.True(stalled < StallSeconds, $"Watchdog: nothing became durable for {StallSeconds} s (deadlock or lost wake-up) at LSN {durable}.");
                if (second > WarmupSeconds)
                {
                    perSecond.Add((long)(durable - previous));
                }

                previous = durable;
                if (durable > 20_000)
                {
                    log.TruncateBefore(new Lsn(durable - 20_000)); // keeps the disk flat too, through recycling
                }

                if (second == WarmupSeconds)
                {
                    managedBaseline = GC.GetTotalMemory(forceFullCollection: true);
                    nativeBaseline = NativeSlab.LiveBytes;
                }
            }

            managedGrowth = GC.GetTotalMemory(forceFullCollection: true) - managedBaseline;
            nativeGrowth = NativeSlab.LiveBytes - nativeBaseline;
            stop.Cancel();
            Assert.True(producers.Join(TimeSpan.FromSeconds(120)), "Every producer stopped.");
            log.Flush();
            Assert.Equal(appended.Sum(), (long)log.LastLsn.Value); // every append got an LSN, and no LSN was lost
        }, TimeSpan.FromSeconds(seconds + 180));

        long total = appended.Sum();
        output.WriteLine($"{seconds} s, {Threads} threads: {total} records; durable per second after warm-up: {string.Join(", ", perSecond)}; managed heap {managedGrowth / 1024} KiB, native slabs {nativeGrowth} B growth");
        Assert.All(appended, count => Assert.True(count > 0, "Every thread made progress."));
        Assert.Equal(0, nativeGrowth);
        Assert.True(managedGrowth < 16 << 20, $"The managed heap stays flat under load: it grew {managedGrowth / 1024} KiB.");
        int third = Math.Max(1, perSecond.Count / 3);
        double first = perSecond.Take(third).Average();
        double final = perSecond.TakeLast(third).Average();
        Assert.True(final >= first * 0.4, $"Throughput does not decay: {final:F0}/s over the last third against {first:F0}/s over the first (a shared VM is noisy: the bound is 0.4x).");

        using (WriteAheadLog reopened = WriteAheadLog.Open(options))
        {
            Assert.Equal(total, (long)reopened.LastLsn.Value);
        }
    }

    [Fact]
    public void Appenders_on_full_stripes_progress_as_the_flusher_drains_without_burning_cpu()
    {
        // A slow device (20 ms per write) and 4 KiB stripes that hold five records: sixteen appenders spend almost all
        // their time waiting for space.
        var storage = new FaultyStorage { BeforeWrite = () => Thread.Sleep(20) };
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 2, StripeCapacityBytes = 4096, SegmentSizeBytes = 1 << 20, MaxEntryBytes = 1024 };
        var appended = new long[16];
        TimeSpan cpu = default;
        TimeSpan wall = default;
        long durableInWindow = 0;
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(options, storage);
            using var stop = new CancellationTokenSource();
            var producers = new Thread(() => Bounded.Parallel(appended.Length, index =>
            {
                byte[] payload = new byte[700];
                while (!stop.IsCancellationRequested)
                {
                    log.Append(payload);
                    appended[index]++;
                }
            }));
            producers.Start();
            Thread.Sleep(500); // the stripes fill up

            var process = Process.GetCurrentProcess();
            process.Refresh();
            TimeSpan cpuBefore = process.TotalProcessorTime;
            ulong durableBefore = log.DurableLsn.Value;
            var clock = Stopwatch.StartNew();
            Thread.Sleep(2000);
            process.Refresh();
            cpu = process.TotalProcessorTime - cpuBefore;
            wall = clock.Elapsed;
            durableInWindow = (long)(log.DurableLsn.Value - durableBefore);

            stop.Cancel();
            Assert.True(producers.Join(TimeSpan.FromSeconds(60)), "Blocked appenders finish once the flusher drains their stripes.");
        });

        output.WriteLine($"{durableInWindow} records durable in {wall.TotalMilliseconds:F0} ms with full stripes; process CPU {cpu.TotalMilliseconds:F0} ms");
        Assert.All(appended, count => Assert.True(count > 0, "Every blocked appender made progress."));
        Assert.True(durableInWindow >= 20, $"The flusher drained the full stripes: {durableInWindow} records became durable in 2 s.");

        // Spinning appenders would burn both cores (~4000 ms of CPU in 2 s); parked ones leave the process nearly idle.
        Assert.True(cpu < wall * 0.3, $"Appenders waiting for space park instead of spinning: {cpu.TotalMilliseconds:F0} ms of CPU in {wall.TotalMilliseconds:F0} ms.");
    }

    /// <summary>Each thread cycles through the forms, starting at its own: Append, TryAppend, in-place Append, AppendDurable,
    /// AppendDurableAsync, Append + WaitForDurable, Append + WaitForDurableAsync, Append + Flush.</summary>
    private static void Produce(WriteAheadLog log, int index, long[] appended, CancellationToken stop)
    {
        var random = new Random(index);
        byte[] payload = new byte[64 + random.Next(200)];
        random.NextBytes(payload);
        for (long i = index; !stop.IsCancellationRequested; i++)
        {
            switch (i % Forms)
            {
                case 0:
                    log.Append(payload);
                    break;
                case 1:
                    if (!log.TryAppend(payload, out _))
                    {
                        log.Append(payload); // full: wait for space instead
                    }

                    break;
                case 2:
                    log.Append(payload.Length, payload, static (destination, bytes) => bytes.CopyTo(destination));
                    break;
                case 3:
                    log.AppendDurable(payload);
                    break;
                case 4:
                    log.AppendDurableAsync(payload).AsTask().GetAwaiter().GetResult();
                    break;
                case 5:
                    log.WaitForDurable(log.Append(payload));
                    break;
                case 6:
                    log.WaitForDurableAsync(log.Append(payload)).AsTask().GetAwaiter().GetResult();
                    break;
                default:
                    log.Append(payload);
                    if (i % 64 == Forms - 1)
                    {
                        log.Flush();
                    }

                    break;
            }

            appended[index]++;
        }
    }
}
