using System.Threading.Channels;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// The idiomatic .NET group-commit baseline: producers post (copy, completion) to an unbounded channel;
/// a single consumer drains whatever is available into a <see cref="FileStream"/>, flushes to disk once per batch,
/// then completes the whole batch. A fresh <see cref="TaskCompletionSource{TResult}"/> per record, blocking
/// (<see cref="AppendDurable"/>) or awaited (<see cref="AppendDurableAsync"/>).
/// By default the stream is also opened with <see cref="FileOptions.WriteThrough"/> (so each batch pays a
/// write-through write and an fsync); <c>writeThrough: false</c> relies on the per-batch fsync alone.
/// <para>
/// <see cref="ChannelMode.Buffered"/> is the burst baseline ("channel-buffered"): a buffered stream, no completion per
/// record, no fsync per batch; <see cref="Flush"/> posts a marker and waits until the consumer has reached it and
/// flushed the stream to disk once.
/// </para>
/// </summary>
public sealed class ChannelFileStreamLog : IDurableLog, IAsyncDurableLog<bool>, IBurstLog
{
    private const int StreamBufferSize = 1024 * 1024;

    private readonly Channel<PendingAppend> _channel;
    private readonly FileStream _stream;
    private readonly string _path;
    private readonly Task _consumer;
    private readonly ChannelMode _mode;
    private int _disposed;

    public ChannelFileStreamLog(string directory, ChannelMode mode = ChannelMode.WriteThrough)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _path = Path.Combine(directory, "channel.log");
        _mode = mode;
        FileOptions options = mode == ChannelMode.WriteThrough ? FileOptions.WriteThrough : FileOptions.None;
        _stream = new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, StreamBufferSize, options);
        _channel = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _consumer = Task.Run(ConsumeAsync);
    }

    public string Name => _mode switch
    {
        ChannelMode.WriteThrough => "channel-filestream",
        ChannelMode.FsyncPerBatch => "channel-filestream-fsync",
        _ => "channel-buffered",
    };

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        Post(payload.ToArray(), NewCompletion()).GetAwaiter().GetResult();
    }

    public ValueTask<bool> AppendDurableAsync(ReadOnlyMemory<byte> payload) => new(Post(payload.ToArray(), NewCompletion()));

    /// <summary>Posts a copy of <paramref name="payload"/> with no completion: durable at the next <see cref="Flush"/>.</summary>
    public void Append(ReadOnlySpan<byte> payload) => Post(payload.ToArray(), null);

    /// <summary>Waits until the consumer has written everything posted before and flushed the stream to disk.</summary>
    public void Flush() => Post(null, NewCompletion()).GetAwaiter().GetResult();

    /// <summary>The file holds exactly <paramref name="records"/> payloads of <paramref name="payloadBytes"/> (no framing).</summary>
    public string Verify(long records, int payloadBytes)
    {
        long length = new FileInfo(_path).Length;
        return length == records * payloadBytes
            ? $"file holds {length:N0} bytes: {records:N0} records of {payloadBytes} B"
            : throw new InvalidDataException($"The file holds {length:N0} bytes, not {records * payloadBytes:N0} ({records:N0} records of {payloadBytes} B).");
    }

    public void Dispose()
    {
        // Only the first Dispose completes the channel and waits for the consumer; the exchange orders nothing else.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _channel.Writer.TryComplete();
        try
        {
            _consumer.GetAwaiter().GetResult();
        }
        finally
        {
            _stream.Dispose();
        }
    }

    private static TaskCompletionSource<bool> NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task<bool> Post(byte[]? payload, TaskCompletionSource<bool>? completion)
    {
        if (!_channel.Writer.TryWrite(new PendingAppend(payload, completion)))
        {
            throw new ObjectDisposedException(nameof(ChannelFileStreamLog));
        }

        return completion?.Task ?? Task.FromResult(true);
    }

    private async Task ConsumeAsync()
    {
        ChannelReader<PendingAppend> reader = _channel.Reader;
        var batch = new List<TaskCompletionSource<bool>>(1024);
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                bool flushRequested = false;
                while (reader.TryRead(out PendingAppend item))
                {
                    if (item.Payload is { } payload)
                    {
                        _stream.Write(payload);
                    }
                    else
                    {
                        flushRequested = true; // a Flush marker: everything before it is written now
                    }

                    if (item.Completion is { } completion)
                    {
                        batch.Add(completion);
                    }
                }

                if (_mode != ChannelMode.Buffered || flushRequested)
                {
                    _stream.Flush(flushToDisk: true);
                }

                foreach (TaskCompletionSource<bool> done in batch)
                {
                    done.TrySetResult(true);
                }

                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            _channel.Writer.TryComplete(ex);
            foreach (TaskCompletionSource<bool> failed in batch)
            {
                failed.TrySetException(ex);
            }

            while (reader.TryRead(out PendingAppend item))
            {
                item.Completion?.TrySetException(ex);
            }

            throw;
        }
    }

    /// <summary>A payload to write (null for a Flush marker) and what to complete once it is durable (null for a burst append).</summary>
    private readonly record struct PendingAppend(byte[]? Payload, TaskCompletionSource<bool>? Completion);
}

/// <summary>How <see cref="ChannelFileStreamLog"/> makes its batches durable.</summary>
public enum ChannelMode
{
    /// <summary>A write-through stream, flushed to disk after every batch.</summary>
    WriteThrough,

    /// <summary>A buffered stream, flushed to disk after every batch.</summary>
    FsyncPerBatch,

    /// <summary>A buffered stream, flushed to disk only when <see cref="ChannelFileStreamLog.Flush"/> asks.</summary>
    Buffered,
}
