namespace Aletheia.Wal;

/// <summary>
/// Serializes a record's payload in place, straight into ring memory. <paramref name="destination"/> is exactly
/// as long as the length passed to the append and is valid only during the call. The writer may block; it delays only
/// its own record and the release of its stripe's ring space behind it, so it must not append to the log itself or
/// wait for an append that may need that space (see <see cref="WriteAheadLog.Append{TState}"/>). If it throws, the
/// record is abandoned, no LSN is consumed and the exception reaches the caller of the append.
/// </summary>
public delegate void WalPayloadWriter<TState>(Span<byte> destination, TState state)
    where TState : allows ref struct;
