using System.Threading.Channels;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// The idiomatic .NET group-commit baseline: producers post (copy, completion) to an unbounded channel;
/// a single consumer drains whatever is available into a write-through <see cref="FileStream"/>,
/// flushes to disk once per batch, then completes the whole batch.
/// By default the stream is also opened with <see cref="FileOptions.WriteThrough"/> (so each batch pays a
/// write-through write and an fsync); <c>writeThrough: false</c> relies on the per-batch fsync alone.
/// </summary>
public sealed class ChannelFileStreamLog : IDurableLog
{
    private const int StreamBufferSize = 1024 * 1024;

    private readonly Channel<PendingAppend> _channel;
    private readonly FileStream _stream;
    private readonly Task _consumer;
    private readonly bool _writeThrough;
    private int _disposed;

    public ChannelFileStreamLog(string directory, bool writeThrough = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, "channel.log");
        _writeThrough = writeThrough;
        FileOptions options = writeThrough ? FileOptions.WriteThrough : FileOptions.None;
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, StreamBufferSize, options);
        _channel = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _consumer = Task.Run(ConsumeAsync);
    }

    public string Name => _writeThrough ? "channel-filestream" : "channel-filestream-fsync";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite(new PendingAppend(payload.ToArray(), completion)))
        {
            throw new ObjectDisposedException(nameof(ChannelFileStreamLog));
        }

        completion.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
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

    private async Task ConsumeAsync()
    {
        ChannelReader<PendingAppend> reader = _channel.Reader;
        var batch = new List<PendingAppend>(1024);
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out PendingAppend item))
                {
                    batch.Add(item);
                    _stream.Write(item.Payload);
                }

                _stream.Flush(flushToDisk: true);
                foreach (PendingAppend done in batch)
                {
                    done.Completion.TrySetResult();
                }

                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            _channel.Writer.TryComplete(ex);
            foreach (PendingAppend failed in batch)
            {
                failed.Completion.TrySetException(ex);
            }

            while (reader.TryRead(out PendingAppend item))
            {
                item.Completion.TrySetException(ex);
            }

            throw;
        }
    }

    private readonly record struct PendingAppend(byte[] Payload, TaskCompletionSource Completion);
}
