using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Aletheia.Wal.Perf.Raft;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNextLog = DotNext.Net.Cluster.Consensus.Raft.StateMachine.WriteAheadLog;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// DotNext.Net.Cluster 6.12's <see cref="DotNextLog"/> used standalone, as the raft command opens it (default options but
/// <see cref="ChunkBytes"/>, a state machine that does nothing). A record is durable once <c>CommitAsync</c> has covered its index and
/// <c>FlushAsync</c> has returned (it waits until the background flusher has written up to the commit index).
/// <para>
/// <c>CommitAsync</c> takes one caller at a time (16 concurrent callers crash it, see RESULTS.md's Raft section) and
/// <c>FlushAsync</c> waits on an auto-reset event, so one committer loop serves every appender: an appender appends, posts
/// (index, completion) to a channel and awaits; the committer drains the channel, commits the highest index it saw, flushes,
/// and completes every waiter it drained. Appends themselves run concurrently (the log serializes them under its own lock).
/// </para>
/// </summary>
public sealed class DotNextWalPeer : IDurableLog, IAsyncDurableLog<long>, IBurstLog
{
    /// <summary>
    /// DotNext's <c>ChunkSize</c> here: 1 MiB files instead of its default of one file per 4 KiB page, which keeps a file
    /// open per 4 KiB of entries and runs out of file descriptors (20,000 on this machine) about a million 64 B entries into
    /// a burst. Everything else is default.
    /// </summary>
    public const int ChunkBytes = 1024 * 1024;

    private const long Term = 1;

    // Per appending thread: the copy of a span payload handed to AppendAsync, which takes memory, not spans. Reused once
    // the append that read it has completed.
    [ThreadStatic]
    private static byte[]? t_copy;

    private readonly DotNextLog _log;
    private readonly IAsyncDisposable _owner;
    private readonly Channel<Waiter> _waiters = Channel.CreateUnbounded<Waiter>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
        AllowSynchronousContinuations = false,
    });

    private readonly Task _committer;
    private int _disposed;

    public DotNextWalPeer(string directory)
    {
        (IPersistentState state, IAsyncDisposable owner) = RaftLogs.Open("dotnext", directory, ChunkBytes);
        _log = (DotNextLog)state;
        _owner = owner;
        _log.InitializeAsync().GetAwaiter().GetResult();
        _committer = Task.Run(CommitLoopAsync);
    }

    public string Name => "dotnext";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        long index = _log.AppendAsync(new BinaryLogEntry { Term = Term, Content = Copy(payload) }).AsTask().GetAwaiter().GetResult();
        WaitDurable(index).GetAwaiter().GetResult();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<long> AppendDurableAsync(ReadOnlyMemory<byte> payload)
    {
        long index = await _log.AppendAsync(new BinaryLogEntry { Term = Term, Content = payload }).ConfigureAwait(false);
        return await WaitDurable(index).ConfigureAwait(false);
    }

    public void Append(ReadOnlySpan<byte> payload)
    {
        _ = _log.AppendAsync(new BinaryLogEntry { Term = Term, Content = Copy(payload) }).AsTask().GetAwaiter().GetResult();
    }

    public void Flush() => WaitDurable(_log.LastEntryIndex).GetAwaiter().GetResult();

    /// <summary>The log's last index and its commit index are both <paramref name="records"/> (its first entry is index 1).</summary>
    public string Verify(long records, int payloadBytes)
    {
        long last = _log.LastEntryIndex;
        long committed = _log.LastCommittedEntryIndex;
        return last == records && committed == records
            ? $"last index and commit index {records:N0}, as appended"
            : throw new InvalidDataException($"The log's last index is {last:N0} and its commit index {committed:N0}; {records:N0} entries were appended and committed.");
    }

    public void Dispose()
    {
        // Only the first Dispose completes the channel and waits for the committer; the exchange orders nothing else.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _waiters.Writer.TryComplete();
        try
        {
            _committer.GetAwaiter().GetResult();
        }
        finally
        {
            _owner.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> payload)
    {
        byte[] copy = t_copy is { } cached && cached.Length == payload.Length ? cached : t_copy = new byte[payload.Length];
        payload.CopyTo(copy);
        return copy;
    }

    private Task<long> WaitDurable(long index)
    {
        var completion = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_waiters.Writer.TryWrite(new Waiter(index, completion)))
        {
            throw new ObjectDisposedException(nameof(DotNextWalPeer));
        }

        return completion.Task;
    }

    private async Task CommitLoopAsync()
    {
        ChannelReader<Waiter> reader = _waiters.Reader;
        var batch = new List<Waiter>(1024);
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                long highest = 0;
                while (reader.TryRead(out Waiter waiter))
                {
                    batch.Add(waiter);
                    highest = Math.Max(highest, waiter.Index);
                }

                // Every index up to the highest is appended: AppendAsync returned each waiter's index after the log had it,
                // and the log hands out indexes in order under its write lock.
                await _log.CommitAsync(highest).ConfigureAwait(false);
                await _log.FlushAsync().ConfigureAwait(false);
                foreach (Waiter done in batch)
                {
                    done.Completion.TrySetResult(done.Index);
                }

                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            _waiters.Writer.TryComplete(ex);
            foreach (Waiter failed in batch)
            {
                failed.Completion.TrySetException(ex);
            }

            while (reader.TryRead(out Waiter waiter))
            {
                waiter.Completion.TrySetException(ex);
            }

            throw;
        }
    }

    private readonly record struct Waiter(long Index, TaskCompletionSource<long> Completion);
}
