using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// The waits with limits of <see cref="WriteAheadLog"/>: timeouts, cancellation, <see cref="WriteAheadLog.FlushAsync"/>
/// and <see cref="WriteAheadLog.DisposeAsync"/>. Each test holds the flush thread inside a segment write (the storage
/// seam's <see cref="FaultyStorage.BeforeWrite"/>), so "not durable yet" lasts exactly as long as the test wants.
/// </summary>
public sealed class WaitLimitTests : IDisposable
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Timed_waits_return_false_exactly_while_the_write_is_held_and_true_once_it_is_released()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldWrites(storage);
            using WriteAheadLog log = Open(storage);
            Lsn first = log.AppendDurable([0]);
            Assert.True(log.WaitForDurable(first, Short), "A durable record: true at once.");
            Assert.True(log.WaitForDurable(first, TimeSpan.Zero), "A durable record: a zero timeout returns true too.");
            Assert.True(log.Flush(Short), "Nothing pending: Flush(timeout) returns true.");

            held.Hold();
            Lsn pending = log.Append([1]);
            held.WaitUntilInWrite();
            Assert.False(log.WaitForDurable(pending, Short), "The write is held: the wait times out.");
            Assert.False(log.WaitForDurable(pending, TimeSpan.Zero), "A zero timeout checks once: not durable.");
            Assert.False(log.Flush(Short), "The write is held: Flush(timeout) times out.");
            Assert.False(log.TryAppendDurable([2], Short, out Lsn appended), "The write is held: the record is appended but not durable in time.");
            Assert.True(appended == new Lsn(pending.Value + 1), $"TryAppendDurable gives the LSN of the record it appended ({pending.Value + 1}), also on timeout; it gave {appended}.");
            Assert.True(log.LastLsn == appended, "The record stays appended.");
            Assert.True(log.DurableLsn == first, $"Nothing held is reported durable: DurableLsn is {log.DurableLsn}.");
            Assert.True(log.TestHookRegisteredWaiters == 0, "The timed-out waits left no waiter registered.");

            held.Release();
            Assert.True(log.WaitForDurable(appended, Long), "Released: the wait returns true.");
            Assert.True(log.Flush(Long), "Released: Flush(timeout) returns true.");
            Assert.True(log.TryAppendDurable([3], Long, out Lsn next), "Released: TryAppendDurable returns true.");
            Assert.True(next == new Lsn(appended.Value + 1) && log.DurableLsn >= next, "Its record took the next LSN and is durable.");

            var records = LogContents.ReadAll(_temp.Log());
            Assert.Equal(new ulong[] { 0, 1, 2, 3 }, records.Select(r => (ulong)r.Payload[0]));
            LogContents.AssertContiguousFrom(records, 1);
        });
    }

    [Fact]
    public void Cancelled_sync_waits_throw_while_the_write_is_held_and_their_records_still_become_durable()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldWrites(storage);
            using WriteAheadLog log = Open(storage);
            log.AppendDurable([0]);
            held.Hold();
            Lsn pending = log.Append([1]);
            held.WaitUntilInWrite();

            using (var cancellation = new CancellationTokenSource(Short))
            {
                var e = Assert.Throws<OperationCanceledException>(() => log.WaitForDurable(pending, cancellation.Token));
                Assert.True(e.CancellationToken == cancellation.Token, "WaitForDurable ends cancelled with its token.");
            }

            using (var cancellation = new CancellationTokenSource(Short))
            {
                Assert.Throws<OperationCanceledException>(() => log.AppendDurable([2], cancellation.Token));
            }

            Lsn cancelledWhileWaiting = log.LastLsn;
            Assert.True(cancelledWhileWaiting == new Lsn(pending.Value + 1), "AppendDurable appended before its wait was cancelled.");

            using var cancelled = new CancellationTokenSource();
            cancelled.Cancel();
            Assert.Throws<OperationCanceledException>(() => log.AppendDurable([3], cancelled.Token));
            Lsn cancelledBefore = log.LastLsn;
            Assert.True(cancelledBefore == new Lsn(cancelledWhileWaiting.Value + 1), "With a cancelled token and room in the stripe, AppendDurable appends anyway (as AppendDurableAsync does).");

            using (var cancellation = new CancellationTokenSource(Short))
            {
                Assert.Throws<OperationCanceledException>(() => log.Flush(cancellation.Token));
            }

            Assert.True(log.TestHookRegisteredWaiters == 0, "The cancelled waits left no waiter registered.");
            Assert.True(log.DurableLsn == new Lsn(pending.Value - 1), "Nothing held is reported durable.");

            held.Release();
            Assert.True(log.Flush(Long), "Released: everything appended becomes durable.");
            Assert.True(log.DurableLsn == cancelledBefore, $"The cancelled records are durable: DurableLsn is {log.DurableLsn}, the last one {cancelledBefore}.");

            // Durable already: a cancelled token does not matter.
            log.WaitForDurable(cancelledBefore, cancelled.Token);
            log.Flush(cancelled.Token);

            var records = LogContents.ReadAll(_temp.Log());
            LogContents.AssertContiguousFrom(records, 1);
            Assert.Equal(new ulong[] { 0, 1, 2, 3 }, records.Select(r => (ulong)r.Payload[0]));
            Assert.True(records[^1].Lsn == cancelledBefore.Value, "The record appended with a cancelled token reads back at its LSN.");
        });
    }

    [Fact]
    public void On_a_full_stripe_a_cancelled_AppendDurable_and_a_timed_out_TryAppendDurable_append_nothing()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldWrites(storage);
            using WriteAheadLog log = WriteAheadLog.Open(
                new WalOptions { Directory = _temp.Log(), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 },
                storage);
            log.AppendDurable(Payloads.MakeTagged(1, 0, 200));
            held.Hold();
            log.Append(Payloads.MakeTagged(1, 1, 200));
            held.WaitUntilInWrite();
            int filled = 2;
            while (log.TryAppend(Payloads.MakeTagged(1, filled, 200), out _))
            {
                filled++;
            }

            Lsn lastBefore = log.LastLsn;
            Assert.True(lastBefore == new Lsn((ulong)filled), "The stripe is full, with the write held.");

            using var cancelled = new CancellationTokenSource();
            cancelled.Cancel();
            Assert.Throws<OperationCanceledException>(() => log.AppendDurable(Payloads.MakeTagged(2, 0, 200), cancelled.Token));
            Assert.True(log.LastLsn == lastBefore, "A cancelled token on a full stripe: nothing appended, no LSN taken.");

            using (var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
            {
                Assert.Throws<OperationCanceledException>(() => log.AppendDurable(Payloads.MakeTagged(2, 1, 200), cancellation.Token));
            }

            Assert.True(log.LastLsn == lastBefore, "Cancelled while waiting for space: nothing appended, no LSN taken.");

            Assert.False(log.TryAppendDurable(Payloads.MakeTagged(2, 2, 200), Short, out Lsn none), "The stripe stays full through the timeout.");
            Assert.True(none == Lsn.None, $"Nothing appended: the LSN is None, not {none}.");
            Assert.False(log.TryAppendDurable(Payloads.MakeTagged(2, 3, 200), TimeSpan.Zero, out none), "A zero timeout on a full stripe returns at once.");
            Assert.True(none == Lsn.None && log.LastLsn == lastBefore, "Nothing appended, no LSN taken.");

            held.Release();
            byte[] after = Payloads.MakeTagged(3, 0, 200);
            Assert.True(log.TryAppendDurable(after, Long, out Lsn next), "Released: the stripe drains and the append is durable in time.");
            Assert.True(next == new Lsn(lastBefore.Value + 1), $"It takes the next LSN, {lastBefore.Value + 1}: the refused calls took none. It took {next}.");

            var records = LogContents.ReadAll(_temp.Log());
            LogContents.AssertContiguousFrom(records, 1);
            Assert.True(records.Count == filled + 1, $"The log holds the {filled} records that filled the stripe and the one after; it holds {records.Count}.");
            Assert.True(records[^1].Payload.AsSpan().SequenceEqual(after), "The last record is the one appended after the release.");
        });
    }

    [Fact]
    public async Task FlushAsync_completes_once_the_records_are_durable_and_its_wait_is_cancellable()
    {
        var storage = new FaultyStorage();
        using var held = new HeldWrites(storage);
        await using WriteAheadLog log = Open(storage);
        Assert.True(log.FlushAsync().IsCompletedSuccessfully, "An empty log: FlushAsync completes at once.");
        Lsn first = log.AppendDurable([0]);
        Assert.True(log.FlushAsync().IsCompletedSuccessfully, "Everything durable: FlushAsync completes at once.");

        held.Hold();
        Lsn pending = log.Append([1]);
        held.WaitUntilInWrite();
        ValueTask flush = log.FlushAsync();
        using var cancellation = new CancellationTokenSource();
        ValueTask cancellable = log.FlushAsync(cancellation.Token);
        Assert.False(flush.IsCompleted, "The write is held: FlushAsync is pending.");
        Assert.False(cancellable.IsCompleted, "The write is held: the cancellable FlushAsync is pending too.");

        Task cancelledTask = cancellable.AsTask();
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelledTask.WaitAsync(Long));
        Assert.True(cancelledTask.IsCanceled, "Cancelled FlushAsync ends cancelled, not faulted.");
        Assert.False(flush.IsCompleted, "The other FlushAsync still waits: the write is still held.");
        Assert.True(log.DurableLsn == first, "Nothing held is reported durable.");

        held.Release();
        await flush.AsTask().WaitAsync(Long);
        Assert.True(log.DurableLsn == pending, "FlushAsync completed once the record appended before it was durable.");
        Assert.True(log.FlushAsync(cancellation.Token).IsCompletedSuccessfully, "Durable already: a cancelled token does not matter.");
    }

    [Fact]
    public async Task DisposeAsync_returns_pending_without_blocking_while_a_write_is_held_and_completes_with_the_lock_released()
    {
        var storage = new FaultyStorage();
        using var held = new HeldWrites(storage);
        WriteAheadLog log = Open(storage);
        log.AppendDurable([0]);
        held.Hold();
        Lsn pending = log.Append([1]);
        held.WaitUntilInWrite();
        ValueTask asyncWaiter = log.WaitForDurableAsync(pending);
        object? syncOutcome = null;
        var syncWaiter = new Thread(() =>
        {
            try
            {
                syncOutcome = log.WaitForDurable(pending, Long);
            }
            catch (Exception e)
            {
                syncOutcome = e;
            }
        })
        { IsBackground = true, Name = "sync-waiter" };
        syncWaiter.Start();
        SpinWait.SpinUntil(() => log.TestHookRegisteredWaiters == 2, Long);
        Assert.True(log.TestHookRegisteredWaiters == 2, "Both waiters wait for the held record before the disposal starts.");

        ValueTask disposal = log.DisposeAsync();
        Assert.False(disposal.IsCompleted, "The write is held: DisposeAsync returned to its caller with the disposal pending.");
        Assert.True(log.DisposeAsync().IsCompletedSuccessfully, "A second DisposeAsync returns at once, as a second Dispose does.");
        log.Dispose(); // concurrent Dispose: returns at once
        Assert.False(disposal.IsCompleted, "The disposal is still pending: the write is still held.");

        Assert.Throws<ObjectDisposedException>(() => log.Append([2]));
        Assert.Throws<ObjectDisposedException>(() => log.WaitForDurable(pending, Short));
        Assert.Throws<WalException>(() => WriteAheadLog.Open(Options())); // the lock is held until the disposal completes

        held.Release();
        await disposal.AsTask().WaitAsync(Long);
        Assert.True(log.DurableLsn == pending, "The disposal made everything appended durable.");
        await asyncWaiter.AsTask().WaitAsync(Long);
        Assert.True(syncWaiter.Join(Long), "The sync waiter returned.");
        Assert.True(syncOutcome is true, $"A timed waiter for a record that became durable during the disposal returns true, not {syncOutcome ?? "nothing"}.");

        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        Assert.True(reopened.LastLsn == pending, $"Reopened after DisposeAsync: the log ends at {pending}; it ends at {reopened.LastLsn}.");
        Assert.Equal(new ulong[] { 0, 1 }, LogContents.ReadAll(_temp.Log()).Select(r => (ulong)r.Payload[0]));
    }

    [Fact]
    public async Task DisposeAsync_waits_for_an_in_place_writer_still_running_and_its_record_becomes_durable()
    {
        WriteAheadLog log = WriteAheadLog.Open(Options());
        log.AppendDurable([0]);
        using var writing = new ManualResetEventSlim();
        using var finish = new ManualResetEventSlim();
        Lsn written = Lsn.None;
        var appender = new Thread(() => written = log.Append(1, (writing, finish), static (span, gates) =>
        {
            gates.writing.Set();
            gates.finish.Wait(TimeSpan.FromSeconds(60));
            span[0] = 7;
        }))
        { IsBackground = true, Name = "in-place-writer" };
        appender.Start();
        Assert.True(writing.Wait(Long), "The writer runs, its reservation made.");

        ValueTask disposal = log.DisposeAsync();
        await Task.Delay(100);
        Assert.False(disposal.IsCompleted, "The disposal waits for the running writer: its reservation was made before the stripes closed.");

        finish.Set();
        Assert.True(appender.Join(Long), "The writer returns.");
        await disposal.AsTask().WaitAsync(Long);
        Assert.True(written == new Lsn(2) && log.DurableLsn == written, $"The writer's record took LSN 2 and was durable when the disposal completed (durable: {log.DurableLsn}).");
        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        Assert.Equal(new ulong[] { 0, 7 }, LogContents.ReadAll(_temp.Log()).Select(r => (ulong)r.Payload[0]));
    }

    [Fact]
    public async Task DisposeAsync_with_nothing_pending_completes_at_once_and_releases_the_lock()
    {
        WriteAheadLog log = WriteAheadLog.Open(Options());
        log.AppendDurable([0]);
        ValueTask disposal = log.DisposeAsync();
        Assert.True(disposal.IsCompletedSuccessfully, "Everything durable: DisposeAsync completes synchronously.");
        await disposal;
        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        Assert.True(reopened.LastLsn == new Lsn(1), "The record is there after reopening.");
    }

    [Fact]
    public async Task A_faulted_log_makes_every_limited_wait_throw_WalException()
    {
        var storage = new FaultyStorage();
        using var held = new HeldWrites(storage);
        WriteAheadLog log = Open(storage);
        Lsn first = log.AppendDurable([0]);
        held.Hold();
        Lsn pending = log.Append([1]);
        held.WaitUntilInWrite();
        Exception? parkedOutcome = null;
        var parked = new Thread(() =>
        {
            try
            {
                log.WaitForDurable(pending, Long);
            }
            catch (Exception e)
            {
                parkedOutcome = e;
            }
        })
        { IsBackground = true, Name = "parked-timed-waiter" };
        parked.Start();
        SpinWait.SpinUntil(() => log.TestHookRegisteredWaiters == 1, Long);
        Assert.True(log.TestHookRegisteredWaiters == 1, "The timed waiter parks while the write is held.");

        storage.FailSegmentWritesAfter(0); // the held write fails
        held.Release();
        Assert.True(parked.Join(Long), "The fault wakes the parked timed waiter.");
        Assert.True(parkedOutcome is WalException, $"A timed wait parked when the log faults throws WalException, not {parkedOutcome?.GetType().Name ?? "a return"}.");

        using var cancellation = new CancellationTokenSource();
        Assert.Throws<WalException>(() => log.WaitForDurable(pending, Short));
        Assert.Throws<WalException>(() => log.WaitForDurable(first, Short)); // faulted: every new call throws, as WaitForDurable(Lsn) does
        Assert.Throws<WalException>(() => log.WaitForDurable(pending, cancellation.Token));
        Assert.Throws<WalException>(() => log.AppendDurable([2], cancellation.Token));
        Assert.Throws<WalException>(() => log.TryAppendDurable([2], Short, out _));
        Assert.Throws<WalException>(() => log.Flush(Short));
        Assert.Throws<WalException>(() => log.Flush(cancellation.Token));
        await Assert.ThrowsAsync<WalException>(() => log.FlushAsync().AsTask().WaitAsync(Long));
        Assert.True(log.LastLsn == pending, "Nothing was appended after the fault.");

        await log.DisposeAsync().AsTask().WaitAsync(Long);
        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        Assert.True(reopened.LastLsn == first, "Reopened after DisposeAsync of the faulted log: it ends at the last acknowledged record.");
    }

    [Fact]
    public async Task A_disposed_log_makes_every_limited_wait_throw_ObjectDisposedException()
    {
        WriteAheadLog log = WriteAheadLog.Open(Options());
        Lsn first = log.AppendDurable([0]);
        await log.DisposeAsync().AsTask().WaitAsync(Long);
        using var cancellation = new CancellationTokenSource();
        Assert.Throws<ObjectDisposedException>(() => log.WaitForDurable(first, Short));
        Assert.Throws<ObjectDisposedException>(() => log.WaitForDurable(first, cancellation.Token));
        Assert.Throws<ObjectDisposedException>(() => log.AppendDurable([1], cancellation.Token));
        Assert.Throws<ObjectDisposedException>(() => log.TryAppendDurable([1], Short, out _));
        Assert.Throws<ObjectDisposedException>(() => log.Flush(Short));
        Assert.Throws<ObjectDisposedException>(() => log.Flush(cancellation.Token));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.FlushAsync().AsTask().WaitAsync(Long));
        Assert.True(log.DisposeAsync().IsCompletedSuccessfully, "DisposeAsync again: completes at once.");
    }

    [Fact]
    public void Timeouts_out_of_range_and_LSNs_never_handed_out_throw_ArgumentOutOfRangeException()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options());
        Lsn first = log.AppendDurable([0]);
        TimeSpan negative = TimeSpan.FromMilliseconds(-2);
        TimeSpan tooLong = TimeSpan.FromMilliseconds(int.MaxValue + 1L);
        Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => log.WaitForDurable(first, negative)).ParamName);
        Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => log.WaitForDurable(first, tooLong)).ParamName);
        Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => log.Flush(negative)).ParamName);
        Assert.Equal("timeout", Assert.Throws<ArgumentOutOfRangeException>(() => log.TryAppendDurable([1], tooLong, out _)).ParamName);
        Assert.True(log.LastLsn == first, "A rejected TryAppendDurable appends nothing.");
        Assert.Equal("lsn", Assert.Throws<ArgumentOutOfRangeException>(() => log.WaitForDurable(new Lsn(2), Short)).ParamName);
        Assert.Equal("lsn", Assert.Throws<ArgumentOutOfRangeException>(() => log.WaitForDurable(new Lsn(2), CancellationToken.None)).ParamName);
        Assert.True(log.WaitForDurable(first, Timeout.InfiniteTimeSpan), "Timeout.InfiniteTimeSpan is accepted: it waits without a limit.");
        Assert.True(log.Flush(Timeout.InfiniteTimeSpan), "Flush takes Timeout.InfiniteTimeSpan too.");
    }

    private WalOptions Options() =>
        new() { Directory = _temp.Log(), StripeCount = 2, StripeCapacityBytes = 64 * 1024, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 };

    private WriteAheadLog Open(FaultyStorage storage) => WriteAheadLog.Open(Options(), storage);
}
