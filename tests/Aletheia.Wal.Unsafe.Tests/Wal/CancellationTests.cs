using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>Cancelling an async durable wait cancels the wait only: the record stays appended and becomes durable.</summary>
public sealed class CancellationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Cancelled_waits_end_while_their_records_stay_appended_and_become_durable()
    {
        var storage = new FaultyStorage();
        await using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }, storage);
        log.AppendDurable([0]);
        using var gate = new ManualResetEventSlim();
        storage.BeforeWrite = () => gate.Wait(TimeSpan.FromSeconds(30)); // hold the writes: the waits stay pending

        using var cancelAppend = new CancellationTokenSource();
        using var cancelWait = new CancellationTokenSource();
        ValueTask<Lsn> append = log.AppendDurableAsync(new byte[] { 1 }, cancelAppend.Token);
        Lsn appended = log.LastLsn;
        Lsn other = log.Append([2]);
        ValueTask wait = log.WaitForDurableAsync(other, cancelWait.Token);
        Assert.False(append.IsCompleted);
        Assert.False(wait.IsCompleted);

        cancelAppend.Cancel();
        cancelWait.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => append.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));

        storage.BeforeWrite = null;
        gate.Set();
        log.Flush(); // the cancelled records were appended all the same, and now are durable
        Assert.True(log.DurableLsn >= other);
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Contains(records, r => r.Lsn == appended.Value && r.Payload.SequenceEqual(new byte[] { 1 }));
        Assert.Contains(records, r => r.Lsn == other.Value && r.Payload.SequenceEqual(new byte[] { 2 }));

        // Already cancelled: the append still happens; the wait completes cancelled at once.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        Lsn before = log.LastLsn;
        storage.BeforeWrite = () => Thread.Sleep(50);
        ValueTask<Lsn> late = log.AppendDurableAsync(new byte[] { 3 }, cancelled.Token);
        Assert.Equal(new Lsn(before.Value + 1), log.LastLsn);
        if (!late.IsCompletedSuccessfully)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => late.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }

        storage.BeforeWrite = null;

        // The pooled waiters the cancellations used still work.
        for (int i = 0; i < 20; i++)
        {
            Lsn lsn = await log.AppendDurableAsync(new byte[] { 4 }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(log.DurableLsn >= lsn);
        }
    }
}
