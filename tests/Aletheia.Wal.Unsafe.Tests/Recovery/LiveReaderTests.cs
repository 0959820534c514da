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
}
