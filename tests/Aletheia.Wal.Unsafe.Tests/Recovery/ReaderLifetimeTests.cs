using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

public sealed class ReaderLifetimeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A reader dropped without Dispose, collected while its last record's payload span is still in use: the memory
    /// under the span must stay valid. (With the buffer in a native slab, the slab's finalizer freed it under the span.)
    /// Run in a child process: a read of freed memory may kill the process.
    /// </summary>
    [Fact]
    public void A_payload_span_stays_valid_after_its_reader_is_collected_undisposed()
    {
        using Process worker = WorkerProcess.Start("reader-gc", _temp.Log());
        string line = WorkerProcess.ReadLine(worker, seconds: 60);
        Assert.True(worker.WaitForExit(30_000), "The worker exits.");
        Assert.Equal("intact", line);
        Assert.Equal(0, worker.ExitCode);
    }

    [Fact]
    public void A_disposed_reader_refuses_to_read_and_disposing_twice_is_harmless()
    {
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20 }))
        {
            log.AppendDurable([1, 2, 3]);
        }

        WalReader reader = WalReader.Open(directory);
        Assert.True(reader.TryRead(out WalRecord record) && record.Payload.SequenceEqual(new byte[] { 1, 2, 3 }));
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.TryRead(out _));
    }

    /// <summary>
    /// Readers borrow their buffer from a pool and give it back on Dispose (disposing twice gives it back once): readers
    /// opened and disposed on many threads at once never share one. Every record is checked byte-exact.
    /// </summary>
    [Fact]
    public void Readers_opened_and_disposed_on_many_threads_never_share_a_buffer()
    {
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1 }))
        {
            for (long i = 0; i < 3000; i++)
            {
                log.Append(Payloads.Make(5, i, 1000));
            }
        }

        long checkedRecords = 0;
        Bounded.Parallel(6, thread =>
        {
            for (int i = 0; i < 30; i++)
            {
                ulong from = (ulong)(1 + ((thread * 31 + i * 37) % 2900));
                var reader = WalReader.Open(directory, new Lsn(from));
                ulong expected = from;
                while (reader.TryRead(out WalRecord record))
                {
                    Assert.Equal(expected, record.Lsn.Value);
                    Assert.True(Payloads.Matches(record.Payload, 5, (long)expected - 1), $"Record {expected} is byte-exact.");
                    expected++;
                    Interlocked.Increment(ref checkedRecords);
                }

                Assert.Equal(3001ul, expected);
                reader.Dispose();
                reader.Dispose();
            }
        }, TimeSpan.FromMinutes(2));
        Assert.True(checkedRecords > 100_000);
    }
}
