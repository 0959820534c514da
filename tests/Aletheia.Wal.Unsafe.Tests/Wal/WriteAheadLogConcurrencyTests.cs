using System.Collections.Concurrent;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class WriteAheadLogConcurrencyTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Eight_threads_mixing_append_forms_then_reopen_finds_every_byte_and_no_lsn_hole()
    {
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 4, StripeCapacityBytes = 64 * 1024, SegmentSizeBytes = 256 * 1024, MaxEntryBytes = 2048 };
        const int Threads = 8;
        const int PerThread = 1500;
        var acknowledged = new ConcurrentDictionary<ulong, (int Producer, long Sequence)>();
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Bounded.Parallel(Threads, t =>
            {
                Lsn previous = Lsn.None;
                for (int i = 0; i < PerThread; i++)
                {
                    byte[] payload = Payloads.MakeTagged(t, i, 12 + (i * 37 % 600));
                    Lsn lsn = (i % 3) switch
                    {
                        0 => log.Append(payload),
                        1 => log.AppendDurable(payload),
                        _ => Blocking.Wait(log.AppendDurableAsync(payload)),
                    };
                    Assert.True(lsn > previous, "One thread's LSNs increase in its own order.");
                    previous = lsn;
                    Assert.True(acknowledged.TryAdd(lsn.Value, (t, i)), $"LSN {lsn} was handed out twice.");
                }
            });
        }

        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal(Threads * PerThread, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        foreach ((ulong lsn, byte[] payload) in records)
        {
            Assert.True(Payloads.TaggedIntact(payload), $"Record {lsn} is byte-exact.");
            Assert.Equal(acknowledged[lsn], Payloads.ReadTag(payload));
        }
    }

    [Fact]
    public void Dispose_under_load_loses_nothing_appended_and_appenders_only_see_object_disposed()
    {
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 2, StripeCapacityBytes = 16 * 1024, SegmentSizeBytes = 256 * 1024, MaxEntryBytes = 1024 };
        var appended = new ConcurrentBag<ulong>();
        var unexpected = new ConcurrentQueue<Exception>();
        WriteAheadLog log = WriteAheadLog.Open(options);
        using var started = new CountdownEvent(6);
        Bounded.Run(() =>
        {
            var workers = Enumerable.Range(0, 6).Select(t => new Thread(() =>
            {
                started.Signal();
                byte[] payload = new byte[200];
                try
                {
                    for (int i = 0; ; i++)
                    {
                        Lsn lsn = (t % 3) switch
                        {
                            0 => log.Append(payload),
                            1 => log.AppendDurable(payload),
                            _ => log.Append(payload.Length, payload, static (d, p) => p.CopyTo(d)),
                        };
                        appended.Add(lsn.Value);
                    }
                }
                catch (ObjectDisposedException)
                {
                    // expected once Dispose starts
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e);
                }
            })).ToArray();
            foreach (Thread w in workers)
            {
                w.Start();
            }

            started.Wait();
            Thread.Sleep(300);
            log.Dispose();
            foreach (Thread w in workers)
            {
                Assert.True(w.Join(TimeSpan.FromSeconds(30)), "Every appender returns once the log is disposed.");
            }
        });

        Assert.Empty(unexpected);
        var records = LogContents.ReadAll(_temp.Log());
        LogContents.AssertContiguousFrom(records, 1);
        var onDisk = records.Select(r => r.Lsn).ToHashSet();
        Assert.All(appended, lsn => Assert.Contains(lsn, onDisk)); // Dispose makes everything appended durable
        Assert.True(appended.Count > 100, "The appenders made progress before Dispose.");
    }

    [Fact]
    public async Task Waiters_racing_with_dispose_return_or_get_object_disposed()
    {
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 2, SegmentSizeBytes = 1 << 20 };
        WriteAheadLog log = WriteAheadLog.Open(options);
        Lsn last = Lsn.None;
        for (int i = 0; i < 1000; i++)
        {
            last = log.Append(new byte[64]);
        }

        Task[] waits = Enumerable.Range(0, 16).Select(i => i % 2 == 0
            ? Task.Run(() => log.WaitForDurable(last))
            : log.WaitForDurableAsync(last).AsTask()).ToArray();
        log.Dispose();
        foreach (Task wait in waits)
        {
            try
            {
                await wait.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (ObjectDisposedException)
            {
                // a wait that started after Dispose began
            }
        }
    }
}
