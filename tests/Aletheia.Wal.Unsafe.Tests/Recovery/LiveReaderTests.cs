using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

public sealed class LiveReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Readers open the directory of a log while a writer appends (no lock taken): each sees a gap-free, byte-exact
    /// prefix that reaches at least what was durable when it opened, and never an error (a write in progress ends it).
    /// </summary>
    [Fact]
    public void Readers_follow_a_live_writer_without_its_lock()
    {
        var options = new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 2 };
        using WriteAheadLog log = WriteAheadLog.Open(options);
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                log.Append(Payloads.Make(8, i, (int)(i % 700)));
                if (i % 50 == 0)
                {
                    log.Flush();
                }
            }
        });
        writer.Start();
        try
        {
            Bounded.Run(() =>
            {
                for (int round = 0; round < 40; round++)
                {
                    Lsn durable = log.DurableLsn;
                    using WalReader reader = WalReader.Open(_temp.Log());
                    ulong next = 1;
                    while (reader.TryRead(out WalRecord record))
                    {
                        Assert.Equal(new Lsn(next), record.Lsn);
                        Assert.True(Payloads.Matches(record.Payload, 8, (long)next - 1), $"Record {next} is byte-exact.");
                        next++;
                    }

                    Assert.True(next - 1 >= durable.Value, $"Round {round}: the reader reached LSN {next - 1}; {durable} was durable when it opened.");
                    Thread.Sleep(10);
                }
            }, TimeSpan.FromSeconds(120));
        }
        finally
        {
            // Also when an assertion failed: the writer must be gone before the log is disposed under it.
            stop.Cancel();
            Assert.True(writer.Join(TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>
    /// Found by review: a reader of a live log reads a write half copied into the page cache (a torn view), and by the
    /// time it looks for later writes the writer has finished that one and made the next, whose batch header reads as a
    /// later write: corruption, on a healthy log. Before refusing, the reader reads the damaged write once more, fresh.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_reader_that_saw_a_write_in_flight_does_not_call_the_live_log_damaged(bool readerHeldBeforeItsSearch)
    {
        string directory = Path.GetFullPath(_temp.Log());
        var storage = new SlowStorage { HalfWriteDelay = TimeSpan.FromMilliseconds(300) };
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1, MaxEntryBytes = 4096 };
        using WriteAheadLog log = WriteAheadLog.Open(options, storage);
        for (int i = 0; i < 5; i++)
        {
            log.AppendDurable(Payloads.Make(1, i, 1000));
        }

        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            for (long i = 5; !stop.IsCancellationRequested; i += 8)
            {
                for (int j = 0; j < 8; j++)
                {
                    log.Append(Payloads.Make(1, i + j, 1000));
                }

                log.Flush();
            }
        });
        storage.Slow = true;
        writer.Start();
        ulong next = 1;
        try
        {
            Assert.True(storage.InFlight.Wait(TimeSpan.FromSeconds(10)), "A large write is half done.");
            Bounded.Run(() =>
            {
                storage.ReaderThread = readerHeldBeforeItsSearch ? Environment.CurrentManagedThreadId : -1;
                using WalReader reader = WalReader.Open(storage, directory, Lsn.None, WalRecoveryMode.TruncateTornTail);
                while (reader.TryRead(out WalRecord record))
                {
                    Assert.Equal(new Lsn(next), record.Lsn);
                    Assert.True(Payloads.Matches(record.Payload, 1, (long)next - 1), $"Record {next} is byte-exact.");
                    next++;
                }
            });
        }
        finally
        {
            stop.Cancel();
            storage.Slow = false;
            Assert.True(writer.Join(TimeSpan.FromSeconds(30)));
        }

        Assert.True(next > 5, $"The reader read the records durable before it opened ({next - 1}).");
    }
}
