using System.Runtime.CompilerServices;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// The async releaser completes its waiters inline, one continuation after the other (<see cref="AsyncCompletions"/>).
/// What one work item per continuation gave for free must still hold: a continuation that blocks on another one, or on
/// another async wait of the log, is not a deadlock, and nothing one continuation sets on its thread reaches the next.
/// </summary>
public sealed class AsyncCompletionsTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_continuation_that_blocks_until_a_later_one_of_its_batch_has_run_is_rescued_by_the_watchdog()
    {
        using var watermark = new DurableWatermark(new Lsn(4));
        DurableWaiter first = watermark.TestHookRegisterUnparked(new Lsn(5), isAsync: true);
        DurableWaiter second = watermark.TestHookRegisterUnparked(new Lsn(6), isAsync: true);
        using var secondRan = new ManualResetEventSlim();
        using var firstDone = new ManualResetEventSlim();
        Lsn firstLsn = Lsn.None, secondLsn = Lsn.None;
        int firstThread = 0, secondThread = 0;
        bool firstSawSecond = false;

        // Attached before the advance, so that both continuations run in the releaser's pass: lowest target first, in
        // one batch (both are ready at once, and a batch holds 16).
        Attach(first, lsn =>
        {
            firstLsn = lsn;
            firstThread = Environment.CurrentManagedThreadId;
            firstSawSecond = secondRan.Wait(Long); // blocks the thread that runs the batch
            firstDone.Set();
        });
        Attach(second, lsn =>
        {
            secondLsn = lsn;
            secondThread = Environment.CurrentManagedThreadId;
            secondRan.Set();
        });

        watermark.Advance(new Lsn(6));

        Assert.True(firstDone.Wait(Long), "The first continuation is still blocked: nothing ran the second one.");
        Assert.True(firstSawSecond, "The first continuation must see the second one run while it blocks.");
        Assert.Equal(new Lsn(5), firstLsn);
        Assert.Equal(new Lsn(6), secondLsn);
        Assert.NotEqual(firstThread, secondThread);
        Assert.True(watermark.TestHookCompletions.TestHookRescues >= 1, "Only the watchdog hands the rest of a batch to another thread.");
        Assert.True(
            SpinWait.SpinUntil(() => watermark.TestHookCompletions.TestHookInFlight == 0, Long),
            "Every batch is given back once its waiters are completed.");
    }

    [Fact]
    public void Nothing_a_continuation_sets_on_its_thread_reaches_the_next_continuation_of_the_batch()
    {
        using var watermark = new DurableWatermark(new Lsn(4));
        DurableWaiter first = watermark.TestHookRegisterUnparked(new Lsn(5), isAsync: true);
        DurableWaiter second = watermark.TestHookRegisterUnparked(new Lsn(6), isAsync: true);
        var local = new AsyncLocal<string>();
        using var done = new ManualResetEventSlim();
        string? seenLocal = "not run";
        SynchronizationContext? seenContext = new();

        Attach(first, _ =>
        {
            local.Value = "set by the first continuation";
            SynchronizationContext.SetSynchronizationContext(new SynchronizationContext());
        });
        Attach(second, _ =>
        {
            seenLocal = local.Value;
            seenContext = SynchronizationContext.Current;
            done.Set();
        });

        watermark.Advance(new Lsn(6));

        Assert.True(done.Wait(Long), "The second continuation did not run.");
        Assert.Null(seenLocal);
        Assert.Null(seenContext);
    }

    [Fact]
    public async Task A_continuation_blocking_on_another_durable_append_of_the_log_completes()
    {
        using var dir = new TempDirectory();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Path });
        byte[] payload = [1, 2, 3];

        // Sync over async inside the continuation the releaser runs inline: the second append's wait can only be
        // released by another release pass, which the watchdog queues on another thread. Five rounds: in each, the
        // first await suspends (a durable append takes a write-through write), so its continuation is the releaser's.
        const int Rounds = 5;
        Task<List<(Lsn First, Lsn Second)>> chain = Task.Run(async () =>
        {
            var lsns = new List<(Lsn First, Lsn Second)>();
            for (int round = 0; round < Rounds; round++)
            {
                Lsn first = await log.AppendDurableAsync(payload);
                Task<Lsn> inner = log.AppendDurableAsync(payload).AsTask();
                lsns.Add((first, inner.Wait(Long) ? inner.Result : Lsn.None));
            }

            return lsns;
        });

        Task finished = await Task.WhenAny(chain, Task.Delay(Long * 2));
        Assert.True(ReferenceEquals(chain, finished), "A continuation blocking on the next append never finished.");
        List<(Lsn First, Lsn Second)> expected = [.. Enumerable.Range(0, Rounds).Select(r => (new Lsn((ulong)(2 * r) + 1), new Lsn((ulong)(2 * r) + 2)))];
        Assert.Equal(expected, await chain);
        Assert.Equal(new Lsn(2 * Rounds), log.DurableLsn);
    }

    /// <summary>
    /// Attaches <paramref name="continuation"/> to <paramref name="waiter"/>'s wait, as an await does, but without the test
    /// thread's synchronization context (xUnit's would post it elsewhere): it runs where the releaser completes the wait.
    /// </summary>
    internal static void Attach(DurableWaiter waiter, Action<Lsn> continuation)
    {
        ConfiguredValueTaskAwaitable<Lsn>.ConfiguredValueTaskAwaiter awaiter = new ValueTask<Lsn>(waiter, waiter.Version).ConfigureAwait(false).GetAwaiter();
        awaiter.UnsafeOnCompleted(() => continuation(awaiter.GetResult()));
    }
}
