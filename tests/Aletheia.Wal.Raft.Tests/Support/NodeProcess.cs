using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>
/// A node in a process of its own (tests/Aletheia.Wal.Raft.Worker): started, killed with SIGKILL, started again on the
/// same directory and port; it takes commands to replicate on its standard input and says which committed.
/// </summary>
internal sealed class NodeProcess(string directory, int port, int[] ports, TimeSpan limit) : IDisposable
{
    private Process? _process;
    private Task? _output;
    private long _applied = -1;
    private long _failed;
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The commands whose ReplicateAsync returned in the process: committed, acknowledged to the client.</summary>
    public ConcurrentQueue<string> Committed { get; } = new();

    /// <summary>How many commands the process answered "failed" (not acknowledged: they may or may not be committed).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Starts the process with the election timeouts given (ms); returns once its cluster member is started.</summary>
    public async Task StartAsync(int lowerElectionTimeout, int upperElectionTimeout)
    {
        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _applied, -1); // the reader task below writes it: a fresh start reports again
        _process = WorkerProcess.StartProgram(
            "Aletheia.Wal.Raft.Worker.dll",
            "node",
            directory,
            port.ToString(CultureInfo.InvariantCulture),
            string.Join(',', ports),
            lowerElectionTimeout.ToString(CultureInfo.InvariantCulture),
            upperElectionTimeout.ToString(CultureInfo.InvariantCulture));
        Process process = _process;
        TaskCompletionSource ready = _ready;
        _output = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "ready")
                {
                    ready.TrySetResult();
                }
                else if (line.StartsWith("applied ", StringComparison.Ordinal))
                {
                    // Volatile: AppliedAsync polls it from the test's thread.
                    Volatile.Write(ref _applied, long.Parse(line.AsSpan(8), CultureInfo.InvariantCulture));
                }
                else if (line.StartsWith("committed ", StringComparison.Ordinal))
                {
                    Committed.Enqueue(line["committed ".Length..]);
                }
                else if (line.StartsWith("failed ", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _failed); // counted from this task, read by the test's
                }
            }

            ready.TrySetException(new InvalidOperationException($"The node process exited: {await process.StandardError.ReadToEndAsync()}"));
        });
        await ready.Task.WaitAsync(limit);
    }

    /// <summary>Asks the process to replicate the command <paramref name="text"/> (one line, no newline in it); false when the process is gone (killed).</summary>
    public async Task<bool> TryReplicateAsync(string text)
    {
        // Volatile: Kill, on another thread, clears it.
        if (Volatile.Read(ref _process) is not { } process)
        {
            return false;
        }

        try
        {
            await process.StandardInput.WriteLineAsync($"replicate {text}").WaitAsync(limit);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false; // killed meanwhile: its standard input is closed
        }
    }

    /// <summary>Waits until the process reports the entry at <paramref name="index"/> applied.</summary>
    public async Task AppliedAsync(long index, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (Volatile.Read(ref _applied) < index) // as above
        {
            Assert.False(cancel.IsCancellationRequested, $"The node process applied up to {Volatile.Read(ref _applied)}, not {index}, within {timeout.TotalSeconds} s.");
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// SIGKILL: no disposal, no flush, in the middle of whatever it was writing. Returns once every line the process wrote
    /// before it died is read (<see cref="Committed"/> then holds every acknowledgement it gave).
    /// </summary>
    public void Kill()
    {
        _process!.Kill(entireProcessTree: true);
        Assert.True(_process.WaitForExit(10_000), "The killed node process exits.");
        Assert.True(_output!.Wait(limit), "The killed node process's output ends.");
        Process process = _process;
        Volatile.Write(ref _process, null); // as in TryReplicateAsync
        process.Dispose();
    }

    public async Task QuitAsync()
    {
        await _process!.StandardInput.WriteLineAsync("quit");
        await _process.WaitForExitAsync().WaitAsync(limit);
        Assert.Equal(0, _process.ExitCode);
    }

    public void Dispose() => _process?.Dispose();
}
