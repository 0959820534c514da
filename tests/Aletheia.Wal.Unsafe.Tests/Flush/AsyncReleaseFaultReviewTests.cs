using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Review of the async releaser through the whole log (D1): a record whose batch write returned is durable, and its
/// AppendDurableAsync must say so even when the very next write fails and faults the log. Version 0.6 completed the
/// async waits in Advance, on the flush thread, before it took the next batch; the branch queues a thread-pool work
/// item, and the fault that follows a few microseconds later wins the race for the registered waits.
/// </summary>
public sealed class AsyncReleaseFaultReviewTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Review13 D1 (found on 2ebf652: 18 of 20 logs failed; fixed on async by 61b7e8d), through the log with natural timing: record 2 is appended with AppendDurableAsync; its
    /// batch write returns; the next record's write fails (EIO). The record is on disk (the reopened log holds it), yet
    /// the AppendDurableAsync failed with WalException ("acknowledges nothing more") instead of returning LSN 2.
    /// Twenty logs; the test counts those whose durable record was reported as failed.
    /// </summary>
    [Fact]
    public void AppendDurableAsync_of_a_record_written_before_the_next_write_failed_returns_its_lsn()
    {
        const int Logs = 20;
        int reportedFailed = 0;
        Bounded.Run(() =>
        {
            for (int round = 0; round < Logs; round++)
            {
                string directory = _temp.Log($"log{round}");
                var storage = new FaultyStorage();
                Task<Lsn> first;
                using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1 }, storage))
                {
                    Assert.Equal(new Lsn(1), log.AppendDurable(Payloads.Make(1, 0, 100)));
                    storage.FailSegmentWritesAfter(1); // record 2's write succeeds; the next one fails
                    int appended = 0;
                    storage.AfterWrite = () =>
                    {
                        // In record 2's write, after its bytes reached the file and before it returns: record 3 is appended
                        // now, so the flush thread writes it right after it advanced the durable LSN to 2.
                        if (Interlocked.Exchange(ref appended, 1) == 0)
                        {
                            log.Append(Payloads.Make(1, 2, 100));
                        }
                    };
                    first = log.AppendDurableAsync(Payloads.Make(1, 1, 100)).AsTask();
                    Assert.True(SpinWait.SpinUntil(() => IsFaulted(log), TimeSpan.FromSeconds(10)), "The failed write faulted the log.");
                    Assert.True(AsyncReleaseReviewTests.CompletedWithin([first], TimeSpan.FromSeconds(10)), "The append's task completed.");
                    Assert.Equal(new Lsn(2), log.DurableLsn); // record 2's write returned: it is durable
                }

                var records = LogContents.ReadAll(directory);
                Assert.Equal([1ul, 2ul], records.Select(r => r.Lsn)); // record 2 is on disk, record 3 is not
                Assert.True(Payloads.Matches(records[1].Payload, 1, 1));
                if (first.Status != TaskStatus.RanToCompletion)
                {
                    Assert.IsType<WalException>(first.Exception!.InnerException);
                    reportedFailed++;
                }
                else
                {
                    Assert.Equal(new Lsn(2), first.Result);
                }
            }
        }, TimeSpan.FromSeconds(120));

        output.WriteLine($"{reportedFailed} of {Logs} AppendDurableAsync calls whose record was durable failed with WalException");
        Assert.True(reportedFailed == 0, $"{reportedFailed} of {Logs} AppendDurableAsync calls failed with WalException although their record was durable, and is in the reopened log (D1).");
    }

    private static bool IsFaulted(WriteAheadLog log)
    {
        try
        {
            log.Flush(TimeSpan.Zero);
            return false;
        }
        catch (WalException)
        {
            return true;
        }
    }
}
