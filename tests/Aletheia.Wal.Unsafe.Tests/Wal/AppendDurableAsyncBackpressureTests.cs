using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// <see cref="WriteAheadLog.AppendDurableAsync"/> on a full stripe: it waits for ring space without a thread, honours
/// cancellation until the record is appended, and fails like a sync appender when the log stops.
/// </summary>
/// <remarks>
/// Each test fills the log's one 4 KiB stripe while the flush thread is held inside a segment write (the storage seam's
/// <see cref="FaultyStorage.BeforeWrite"/>): nothing is released until the test lets the write go, so "full" holds as
/// long as the test needs it to.
/// </remarks>
public sealed class AppendDurableAsyncBackpressureTests : IDisposable
{
    private const int PayloadBytes = 200;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void On_a_full_stripe_calls_return_pending_at_once_without_blocking_a_thread_and_all_complete_once_the_device_moves()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldDevice(storage);
            using WriteAheadLog log = OpenSmall(storage);
            List<(Lsn Lsn, byte[] Payload)> filled = held.FillWhileWriteIsHeld(log);
            Lsn lastBefore = log.LastLsn;

            // More calls than the thread pool has threads, all from one thread: were any of them to block a thread
            // (the caller's, or a pool thread), this thread would not get past the first of them.
            int count = Math.Max(256, ThreadPool.ThreadCount * 4);
            var payloads = new byte[count][];
            var pending = new ValueTask<Lsn>[count];
            using var allReturned = new ManualResetEventSlim();
            Thread caller = StartCaller(() =>
            {
                for (int i = 0; i < count; i++)
                {
                    payloads[i] = Payloads.MakeTagged(2, i, PayloadBytes);
                    pending[i] = log.AppendDurableAsync(payloads[i]);
                }

                allReturned.Set();
            });
            try
            {
                Assert.True(
                    allReturned.Wait(TimeSpan.FromSeconds(10)),
                    $"{count} AppendDurableAsync calls on a full stripe returned within 10 s: each hands back a pending task instead of blocking its caller until space frees.");
                Assert.True(
                    pending.All(t => !t.IsCompleted),
                    "None of them completed: the stripe stays full while the device holds the write, so none could append, let alone become durable.");
                Assert.True(log.LastLsn == lastBefore, $"No LSN was taken while the stripe stayed full: LastLsn is {log.LastLsn}, was {lastBefore}.");
            }
            finally
            {
                held.Release();
                Assert.True(caller.Join(TimeSpan.FromSeconds(60)), "The calling thread ends once the device moves.");
            }

            Task<Lsn>[] tasks = pending.Select(t => t.AsTask()).ToArray();
            Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "Every waiting append completes once the device writes again and space frees.");
            log.Flush();

            var records = LogContents.ReadAll(_temp.Log());
            LogContents.AssertContiguousFrom(records, 1);
            var byLsn = records.ToDictionary(r => r.Lsn, r => r.Payload);
            foreach ((Lsn lsn, byte[] payload) in filled)
            {
                Assert.True(byLsn[lsn.Value].AsSpan().SequenceEqual(payload), $"The record that filled the stripe at LSN {lsn} reads back byte-exact.");
            }

            for (int i = 0; i < count; i++)
            {
                Lsn lsn = tasks[i].Result;
                Assert.True(lsn > lastBefore, $"Async append {i} got LSN {lsn}, after the ones that filled the stripe (up to {lastBefore}).");
                Assert.True(byLsn[lsn.Value].AsSpan().SequenceEqual(payloads[i]), $"Async append {i} reads back byte-exact at its LSN {lsn}.");
            }

            Assert.Equal(lastBefore.Value + (ulong)count, log.LastLsn.Value);
        }, TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void Cancelled_while_waiting_for_space_appends_nothing_and_the_log_goes_on()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldDevice(storage);
            using WriteAheadLog log = OpenSmall(storage);
            held.FillWhileWriteIsHeld(log);
            Lsn lastBefore = log.LastLsn;
            byte[] cancelledPayload = Payloads.MakeTagged(3, 0, PayloadBytes);
            byte[] alreadyCancelledPayload = Payloads.MakeTagged(3, 1, PayloadBytes);
            using var cancellation = new CancellationTokenSource();
            Task<Lsn>? cancelled = null;
            Exception? outcome = null;
            using var ended = new ManualResetEventSlim();
            Thread caller = StartCaller(() =>
            {
                cancelled = log.AppendDurableAsync(cancelledPayload, cancellation.Token).AsTask();
                try
                {
                    cancelled.Wait(TimeSpan.FromSeconds(30));
                }
                catch (AggregateException e)
                {
                    outcome = e.InnerException;
                }

                ended.Set();
            });
            try
            {
                Thread.Sleep(100); // let the call start waiting for space; it must end cancelled whether or not it had
                cancellation.Cancel();
                Assert.True(
                    ended.Wait(TimeSpan.FromSeconds(10)),
                    "An AppendDurableAsync cancelled while its stripe is full ends within 10 s, with the stripe still full: it waits for space cancellably.");
                Assert.True(
                    outcome is OperationCanceledException,
                    $"It ends cancelled (OperationCanceledException), not {outcome?.GetType().Name ?? "successfully"}: it was cancelled before it could append.");
                Assert.True(cancelled!.IsCanceled, "The task is cancelled, not faulted.");
                Assert.True(log.LastLsn == lastBefore, $"A cancelled call takes no LSN: LastLsn is {log.LastLsn}, was {lastBefore}.");

                // Already cancelled, stripe full: cancelled at once, nothing appended.
                ValueTask<Lsn> early = log.AppendDurableAsync(alreadyCancelledPayload, cancellation.Token);
                Assert.True(early.IsCanceled, "A call with a cancelled token on a full stripe completes cancelled at once.");
                Assert.True(log.LastLsn == lastBefore, "It takes no LSN either.");
            }
            finally
            {
                held.Release();
                Assert.True(caller.Join(TimeSpan.FromSeconds(60)), "The calling thread ends once the device moves.");
            }

            // The log goes on: the next append takes the next LSN and becomes durable.
            byte[] after = Payloads.MakeTagged(3, 2, PayloadBytes);
            Lsn next = Blocking.Wait(log.AppendDurableAsync(after), seconds: 30);
            Assert.True(next == new Lsn(lastBefore.Value + 1), $"The next append takes LSN {lastBefore.Value + 1}: the cancelled ones took none. It took {next}.");
            log.Flush();

            var records = LogContents.ReadAll(_temp.Log());
            LogContents.AssertContiguousFrom(records, 1);
            Assert.DoesNotContain(records, r => r.Payload.AsSpan().SequenceEqual(cancelledPayload));
            Assert.DoesNotContain(records, r => r.Payload.AsSpan().SequenceEqual(alreadyCancelledPayload));
            Assert.True(records[^1].Lsn == next.Value && records[^1].Payload.AsSpan().SequenceEqual(after), "The append after the cancellations reads back at its LSN.");
        }, TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void Waiting_for_space_when_the_log_faults_fails_with_the_fault_and_appends_nothing()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldDevice(storage);
            using WriteAheadLog log = OpenSmall(storage);
            held.FillWhileWriteIsHeld(log);
            Lsn lastBefore = log.LastLsn;
            var pending = new Task<Lsn>[16];
            using var allReturned = new ManualResetEventSlim();
            Thread caller = StartCaller(() =>
            {
                for (int i = 0; i < pending.Length; i++)
                {
                    pending[i] = log.AppendDurableAsync(Payloads.MakeTagged(4, i, PayloadBytes)).AsTask();
                }

                allReturned.Set();
            });
            try
            {
                Assert.True(allReturned.Wait(TimeSpan.FromSeconds(10)), "The calls return pending on the full stripe instead of blocking their caller.");
                storage.FailSegmentWritesAfter(0); // the held write fails: the log faults and closes its stripes
            }
            finally
            {
                held.Release();
                Assert.True(caller.Join(TimeSpan.FromSeconds(60)), "The calling thread ends once the device moves.");
            }

            Assert.True(AllEnd(pending, TimeSpan.FromSeconds(30)), "Every waiting async append ends once the log faults.");
            Assert.All(pending, t => Assert.True(
                t.IsFaulted && t.Exception!.InnerException is WalException,
                $"A waiting async append fails with the log's fault (WalException), as a sync appender does; it ended {t.Status} with {t.Exception?.InnerException?.GetType().Name}."));
            Assert.True(log.LastLsn == lastBefore, "None of them appended: the stripe never had room before the log faulted.");
        }, TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void Waiting_for_space_when_the_log_is_disposed_fails_with_object_disposed_and_appends_nothing()
    {
        Bounded.Run(() =>
        {
            var storage = new FaultyStorage();
            using var held = new HeldDevice(storage);
            WriteAheadLog log = OpenSmall(storage);
            held.FillWhileWriteIsHeld(log);
            Lsn lastBefore = log.LastLsn;
            var pending = new Task<Lsn>[16];
            for (int i = 0; i < pending.Length; i++)
            {
                pending[i] = log.AppendDurableAsync(Payloads.MakeTagged(5, i, PayloadBytes)).AsTask();
            }

            Assert.True(pending.All(t => !t.IsCompleted), "The stripe is full and the device held: every call waits for space.");

            // Dispose closes the stripes first, then waits for the flush thread, which the device still holds: the
            // waiters must end on the close, before the device moves.
            var disposer = new Thread(log.Dispose) { IsBackground = true, Name = "disposer" };
            disposer.Start();
            try
            {
                Assert.True(
                    AllEnd(pending, TimeSpan.FromSeconds(10)),
                    "Every waiting async append ends within 10 s of the dispose, although the device still holds the flush thread: the close wakes them.");
                Assert.All(pending, t => Assert.True(
                    t.IsFaulted && t.Exception!.InnerException is ObjectDisposedException,
                    $"A waiting async append fails with ObjectDisposedException once the log is disposed, as a sync appender does, while the device still holds the flush thread; it ended {t.Status} with {t.Exception?.InnerException?.GetType().Name}."));
            }
            finally
            {
                held.Release();
                Assert.True(disposer.Join(TimeSpan.FromSeconds(60)), "Dispose finishes once the device moves.");
            }

            Assert.True(log.LastLsn == lastBefore, "None of them appended: the stripe was closed before it had room.");
            var records = LogContents.ReadAll(_temp.Log());
            LogContents.AssertContiguousFrom(records, 1);
            Assert.True(records[^1].Lsn == lastBefore.Value, $"The log ends at LSN {lastBefore}, the last record appended before the dispose; it ends at {records[^1].Lsn}.");
        }, TimeSpan.FromSeconds(120));
    }

    /// <summary>Runs <paramref name="calls"/> on a thread of its own (the caller whose calls must not block), started.</summary>
    private static Thread StartCaller(Action calls)
    {
        var caller = new Thread(() => calls()) { IsBackground = true, Name = "async-caller" };
        caller.Start();
        return caller;
    }

    /// <summary>Waits for every task to end, whichever way; false if one has not ended within <paramref name="limit"/>.</summary>
    private static bool AllEnd(Task[] tasks, TimeSpan limit) =>
        Task.WhenAll(tasks).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Wait(limit);

    private WriteAheadLog OpenSmall(FaultyStorage storage) => WriteAheadLog.Open(
        new WalOptions { Directory = _temp.Log(), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 },
        storage);

    /// <summary>Holds the flush thread inside a segment write until <see cref="Release"/>, so a full stripe stays full.</summary>
    private sealed class HeldDevice(FaultyStorage storage) : IDisposable
    {
        private readonly HeldWrites _held = new(storage);

        /// <summary>
        /// Appends one record and waits until the flush thread is inside its write (held), then appends until the stripe
        /// refuses: from then on nothing is released until <see cref="Release"/>.
        /// </summary>
        public List<(Lsn Lsn, byte[] Payload)> FillWhileWriteIsHeld(WriteAheadLog log)
        {
            var filled = new List<(Lsn, byte[])>();
            byte[] first = Payloads.MakeTagged(1, 0, PayloadBytes);
            log.AppendDurable(first); // the segment is set up before the device is held
            filled.Add((log.LastLsn, first));
            _held.Hold();
            byte[] held = Payloads.MakeTagged(1, 1, PayloadBytes);
            filled.Add((log.Append(held), held));
            _held.WaitUntilInWrite();
            for (int i = 2; ; i++)
            {
                byte[] payload = Payloads.MakeTagged(1, i, PayloadBytes);
                if (!log.TryAppend(payload, out Lsn lsn))
                {
                    break;
                }

                filled.Add((lsn, payload));
            }

            Assert.True(filled.Count > 3, "The 4 KiB stripe took some records before it filled.");
            return filled;
        }

        public void Release() => _held.Release();

        public void Dispose() => _held.Dispose();
    }
}
