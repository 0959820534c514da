using System.Runtime.CompilerServices;

namespace Aletheia.Wal.Diagnostics;

/// <summary>
/// Random delays at every step of the reserve, publish, scan, merge, release, write and wake protocol, for stress tests
/// that look for interleavings a quiet machine never produces (a thread preempted while it holds an LSN, a scan that
/// runs between a reservation and its publication, a waiter registering while the durable LSN moves).
/// </summary>
/// <remarks>
/// Off unless the AppContext switch <see cref="SwitchName"/> is set before the library is first used (the stress test's
/// worker process does, first thing). Off, <see cref="Enabled"/> is a static readonly false that the JIT folds, so every
/// call site compiles to nothing.
/// </remarks>
internal static class ProtocolDelays
{
    public const string SwitchName = "Aletheia.Wal.Testing.RandomProtocolDelays";

    public static readonly bool Enabled = AppContext.TryGetSwitch(SwitchName, out bool enabled) && enabled;

    [ThreadStatic]
    private static Random? t_random;

    /// <summary>Delays the calling thread at random: most often not at all, else a spin, a yield or a 1 ms sleep.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Step()
    {
        if (Enabled)
        {
            Delay();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Delay()
    {
        Random random = t_random ??= new Random(Environment.CurrentManagedThreadId * 7919);
        int roll = random.Next(1000);
        if (roll < 500)
        {
            return;
        }

        if (roll < 850)
        {
            Thread.SpinWait(random.Next(1, 4000));
        }
        else if (roll < 990)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }
    }
}
