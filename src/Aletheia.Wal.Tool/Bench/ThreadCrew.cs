using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// The dedicated threads of one workload: each sets itself up, waits at a common start line, works until told to stop,
/// and leaves its figures in arrays the workload owns. The first failure of any thread stops them all and is rethrown
/// by <see cref="Join"/>.
/// </summary>
internal sealed class ThreadCrew : IDisposable
{
    private static readonly TimeSpan s_joinTimeout = TimeSpan.FromSeconds(60);

    private readonly Thread[] _threads;
    private readonly bool[] _atStartLine;
    private readonly CountdownEvent _ready;
    private readonly ManualResetEventSlim _go = new(false);
    private readonly ManualResetEvent _ended = new(false);
    private int _stop;
    private int _running;
    private Exception? _error;

    public ThreadCrew(int count)
    {
        _threads = new Thread[count];
        _atStartLine = new bool[count];
        _ready = new CountdownEvent(count);
        _running = count;
    }

    /// <summary>Set by <see cref="Stop"/> or by a failure; threads check it between operations.</summary>
    // Volatile: read in each thread's hot loop, where a plain read could be hoisted out of the loop and the stop never seen.
    // Nothing else is published with the flag: the figures travel the other way, ordered by Join.
    public bool StopRequested => Volatile.Read(ref _stop) != 0;

    /// <summary>Signalled when a thread failed, or when every thread returned: the driver need not wait out the duration.</summary>
    public WaitHandle Ended => _ended;

    /// <summary>Called by each thread, as <paramref name="index"/>, once it is set up: returns when all are and the driver started them.</summary>
    public void WaitForStart(int index)
    {
        _atStartLine[index] = true;
        _ready.Signal();
        _go.Wait();
    }

    /// <summary>
    /// Starts the threads, each running <paramref name="body"/> with its index (it calls <see cref="WaitForStart"/> once
    /// set up); waits until all are at the start line and lets them go at once. Returns that moment (<see cref="Stopwatch"/> ticks).
    /// </summary>
    public long Start(string name, Action<int> body)
    {
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i;
            _threads[i] = new Thread(() => Work(body, index))
            {
                IsBackground = true,
                Name = name + "-" + index.ToString(CultureInfo.InvariantCulture),
            };
            _threads[i].Start();
        }

        _ready.Wait();
        long now = Stopwatch.GetTimestamp();
        _go.Set();
        return now;
    }

    // Volatile: pairs with the read in StopRequested (a store the looping threads see promptly; it publishes nothing else).
    public void Stop() => Volatile.Write(ref _stop, 1);

    /// <summary>Waits for every thread to finish; rethrows the first failure of any, or throws if one does not stop in time.</summary>
    /// <exception cref="TimeoutException">A thread is still running after a minute (it is stuck in the log).</exception>
    public void Join()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(s_joinTimeout.TotalSeconds * Stopwatch.Frequency);
        foreach (Thread thread in _threads)
        {
            TimeSpan left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (!thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                throw new TimeoutException($"The bench thread '{thread.Name}' did not stop within {s_joinTimeout.TotalSeconds:F0} s of being told to.");
            }
        }

        // Every thread has ended (Join), so its CAS of the exception is visible; the volatile read only says the field is shared.
        if (Volatile.Read(ref _error) is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }
    }

    public void Dispose()
    {
        _ready.Dispose();
        _go.Dispose();
        _ended.Dispose();
    }

    private void Work(Action<int> body, int index)
    {
        try
        {
            body(index);
        }
        catch (Exception e)
        {
            // The first failure wins; the CAS publishes it to Join. Then everyone stops.
            Interlocked.CompareExchange(ref _error, e, null);
            Stop();
            _ended.Set();
            if (!_atStartLine[index])
            {
                // Failed while setting up: count it as ready, so the driver is not left waiting for it; the others stop at once.
                _ready.Signal();
            }
        }
        finally
        {
            // Full fence; the last thread to return says so.
            if (Interlocked.Decrement(ref _running) == 0)
            {
                _ended.Set();
            }
        }
    }
}
