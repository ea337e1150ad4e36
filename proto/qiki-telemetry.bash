# SPDX-License-Identifier: MIT OR Apache-2.0
# bash completion for qiki-telemetry
_qiki_telemetry()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local opts="--instance --output --listen --foxglove --rate --compress --chunk-kb --avoid-cpu
		--quiet --help --version"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run info cat $opts" -- "$cur"))
		return
	fi
	case ${COMP_WORDS[1]} in
	info|cat)
		case $prev in
		--topic|--limit) return ;;
		esac
		COMPREPLY=($(compgen -f -X '!*.mcap' -- "$cur") $(compgen -d -- "$cur"))
		[ "${COMP_WORDS[1]}" = cat ] && [[ $cur == -* ]] &&
			COMPREPLY=($(compgen -W "--topic --limit" -- "$cur"))
		return ;;
	esac
	case $prev in
	-i|--instance)
		COMPREPLY=($(compgen -W "$(ls /dev/shm 2>/dev/null | sed -n 's/^qiki\.//p')" -- "$cur"))
		return ;;
	-o|--output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--compress) COMPREPLY=($(compgen -W "zstd none" -- "$cur")); return ;;
	--listen|--foxglove|-r|--rate|--chunk-kb|--avoid-cpu) return ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _qiki_telemetry qiki-telemetry
